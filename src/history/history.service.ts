import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { CONFIG, Config } from '../config';
import { CodedError } from '../contracts/errors';
import {
  HISTORY_RESOLUTIONS,
  type HistoryBucketView,
  type HistoryResolution,
  type HistoryRowView,
  type HistorySeriesView,
  type HistoryShareView,
  type HistorySummaryView,
} from '../contracts/history';
import { LABEL_NAMES, type LabelName, type ScoresByLabel } from '../contracts/labels';
import { EventBus } from '../events/event-bus';
import { CameraRepository } from '../storage/ports/camera.repository';
import { HistoryBucket, HistoryFilter, HistoryRecord, HistoryRepository } from '../storage/ports/history.repository';
import { UserRepository } from '../storage/ports/user.repository';
import { HistoryMetrics } from './history.metrics';

/** A query after validation. */
export interface HistoryQuery {
  cameraId?: string;
  userId?: string;
  from?: number;
  to?: number;
  resolution?: HistoryResolution;
}

/** Rows deleted per statement; between two, the event loop serves the pipeline (≈ 1-3 ms per batch measured). */
export const DELETE_BATCH = 2000;
const DAY_MS = 86_400_000;
const RETENTION_EVERY_MS = 3_600_000;

/**
 * History queries (validated: unknown camera/user → 404, from after to or too many buckets → 400), deletions in
 * small batches off the hot path (a user's rows on 'user.deleted', an admin's range, and retention hourly).
 */
@Injectable()
export class HistoryService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('History');
  private readonly subscription = new Subscription();
  private retentionTimer?: NodeJS.Timeout;
  private firstSweep?: NodeJS.Immediate;
  /** Deletions run one after another (a chain), so two never interleave their batches. */
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(EventBus) private readonly bus: EventBus,
    @Inject(HistoryRepository) private readonly repo: HistoryRepository,
    @Inject(CameraRepository) private readonly cameras: CameraRepository,
    @Inject(UserRepository) private readonly users: UserRepository,
    @Inject(HistoryMetrics) private readonly metrics: HistoryMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription.add(this.bus.on('user.deleted').subscribe((e) => void this.deleteUser(e.payload.userId).catch(() => undefined)));
    // At start: rows of users deleted while a deletion was cut short (crash), then retention; then hourly.
    // A server closed right after it started (tests do) must not sweep a closed database: the first sweep is cancelled
    // on destroy, and a sweep never starts once closed.
    const sweep = () => {
      if (this.closed) return;
      for (const userId of this.repo.orphanUsers()) void this.deleteUser(userId).catch(() => undefined);
      void this.retention().catch(() => undefined);
    };
    this.firstSweep = setImmediate(sweep);
    this.retentionTimer = setInterval(sweep, RETENTION_EVERY_MS);
    this.retentionTimer.unref();
  }

  onModuleDestroy(): void {
    this.closed = true;
    this.subscription.unsubscribe();
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.firstSweep) clearImmediate(this.firstSweep);
  }

  /** Aggregated series: one entry per non-empty bucket of `resolution` (default: the finest listed ≥ HISTORY_RESOLUTION_MS). */
  series(query: HistoryQuery): HistorySeriesView {
    const { filter, resolution, bucketMs } = this.validate(query);
    const count = Math.ceil((filter.to - filter.from) / bucketMs);
    if (count > this.config.HISTORY_MAX_BUCKETS) {
      throw new CodedError(
        'bad_message',
        `from..to spans ${count} buckets of ${resolution}; at most ${this.config.HISTORY_MAX_BUCKETS} (HISTORY_MAX_BUCKETS): ` +
          `ask for a coarser resolution (${coarser(resolution).join(', ') || 'none'}) or a shorter range`,
      );
    }
    return {
      cameraId: filter.cameraId ?? null,
      userId: filter.userId ?? null,
      from: filter.from,
      to: filter.to,
      resolution,
      buckets: this.repo.buckets(filter, bucketMs).map(bucketView),
    };
  }

  /** Buckets lazily (export at a resolution: no bucket cap, nothing held). */
  iterateSeries(query: HistoryQuery & { resolution: HistoryResolution }): IterableIterator<HistoryBucketView> {
    const { filter, bucketMs } = this.validate(query);
    return mapIterator(this.repo.iterateBuckets(filter, bucketMs), bucketView);
  }

  /** The stored rows lazily, oldest first (export). */
  iterateRows(query: HistoryQuery): IterableIterator<HistoryRowView> {
    const { filter } = this.validate(query);
    return mapIterator(this.repo.iterate(filter), rowView);
  }

  summary(query: HistoryQuery): HistorySummaryView {
    const { filter } = this.validate(query);
    const seconds = this.config.HISTORY_RESOLUTION_MS / 1000;
    const groups = new Map<string, { cameraId: string; userId: string | null; counts: Partial<Record<LabelName, number>> }>();
    const total: Partial<Record<LabelName, number>> = {};
    for (const c of this.repo.labelCounts(filter)) {
      const key = `${c.cameraId}\u0000${c.userId ?? ''}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { cameraId: c.cameraId, userId: c.userId, counts: {} }));
      g.counts[c.label] = (g.counts[c.label] ?? 0) + c.rows;
      total[c.label] = (total[c.label] ?? 0) + c.rows;
    }
    return {
      from: filter.from,
      to: filter.to,
      total: shareView(filter.cameraId ?? null, filter.userId ?? null, total, seconds),
      groups: [...groups.values()].map((g) => shareView(g.cameraId, g.userId, g.counts, seconds)),
    };
  }

  /** Admin: rows in a range (optionally one camera / one user), in batches. */
  deleteRange(query: HistoryQuery): Promise<number> {
    const { filter } = this.validate(query, { requireRange: true });
    return this.inBatches('range', (limit) => this.repo.deleteRange(filter, limit));
  }

  /** Privacy: every row naming the user. Also called for orphans found at start. */
  deleteUser(userId: string): Promise<number> {
    return this.inBatches('user', (limit) => this.repo.deleteUser(userId, limit));
  }

  /** Rows older than HISTORY_DAYS. */
  retention(now = Date.now()): Promise<number> {
    const cutoff = now - this.config.HISTORY_DAYS * DAY_MS;
    return this.inBatches('retention', (limit) => this.repo.deleteBefore(cutoff, limit));
  }

  private inBatches(reason: string, step: (limit: number) => number): Promise<number> {
    const run = async () => {
      let total = 0;
      for (;;) {
        if (this.closed) return total;
        const n = step(DELETE_BATCH);
        total += n;
        if (n > 0) this.metrics.rowsDeleted.inc({ reason }, n);
        if (n < DELETE_BATCH) return total;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    };
    const result = this.chain.then(run, run);
    this.chain = result.catch((err: unknown) => this.log.warn(`history: ${reason} deletion failed: ${String(err)}`));
    return result;
  }

  private validate(query: HistoryQuery, options: { requireRange?: boolean } = {}) {
    if (!this.config.HISTORY && !options.requireRange) throw new CodedError('unavailable', 'history is off (HISTORY=off)');
    if (options.requireRange && (query.from === undefined || query.to === undefined)) {
      throw new CodedError('bad_message', 'from and to are both required to delete history');
    }
    const to = query.to ?? Date.now();
    const from = query.from ?? to - 3_600_000;
    if (from > to) throw new CodedError('bad_message', `from (${new Date(from).toISOString()}) is after to (${new Date(to).toISOString()})`);
    if (query.cameraId !== undefined && !this.cameras.get(query.cameraId) && !this.repo.hasCamera(query.cameraId)) {
      throw new CodedError('not_found', `no camera "${query.cameraId}" (neither configured nor in the history)`);
    }
    if (query.userId !== undefined && !this.users.get(query.userId)) throw new CodedError('not_found', `no user "${query.userId}"`);
    const resolution = query.resolution ?? finest(this.config.HISTORY_RESOLUTION_MS);
    const bucketMs = HISTORY_RESOLUTIONS[resolution];
    if (bucketMs < this.config.HISTORY_RESOLUTION_MS) {
      throw new CodedError('bad_message', `resolution ${resolution} is finer than what is stored (HISTORY_RESOLUTION_MS=${this.config.HISTORY_RESOLUTION_MS})`);
    }
    const filter: HistoryFilter = { from, to, ...(query.cameraId !== undefined ? { cameraId: query.cameraId } : {}), ...(query.userId !== undefined ? { userId: query.userId } : {}) };
    return { filter, resolution, bucketMs };
  }
}

const RESOLUTION_NAMES = Object.keys(HISTORY_RESOLUTIONS) as HistoryResolution[];
const finest = (storedMs: number): HistoryResolution => RESOLUTION_NAMES.find((r) => HISTORY_RESOLUTIONS[r] >= storedMs) ?? '1h';
const coarser = (r: HistoryResolution): HistoryResolution[] => RESOLUTION_NAMES.filter((n) => HISTORY_RESOLUTIONS[n] > HISTORY_RESOLUTIONS[r]);

function argmax(scores: ScoresByLabel): LabelName {
  let best: LabelName = LABEL_NAMES[0];
  for (const l of LABEL_NAMES) if (scores[l] > scores[best]) best = l;
  return best;
}

const bucketView = (b: HistoryBucket): HistoryBucketView => ({ ts: b.ts, scores: b.scores, label: argmax(b.scores), rows: b.rows, tracks: b.tracks, faces: b.faces });

const rowView = (r: HistoryRecord): HistoryRowView => ({
  ts: r.ts,
  cameraId: r.cameraId,
  trackId: r.trackId,
  userId: r.userId,
  label: r.label,
  scores: r.scores,
  faces: r.faces,
  frames: r.frames,
  box: r.box,
});

function shareView(cameraId: string | null, userId: string | null, counts: Partial<Record<LabelName, number>>, secondsPerRow: number): HistoryShareView {
  const rows = LABEL_NAMES.reduce((sum, l) => sum + (counts[l] ?? 0), 0);
  const shares = Object.fromEntries(LABEL_NAMES.map((l) => [l, rows === 0 ? 0 : (counts[l] ?? 0) / rows])) as Record<LabelName, number>;
  return { cameraId, userId, seconds: rows * secondsPerRow, shares };
}

function* mapIterator<A, B>(source: IterableIterator<A>, f: (a: A) => B): IterableIterator<B> {
  for (const a of source) yield f(a);
}
