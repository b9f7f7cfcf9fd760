import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { CONFIG, Config } from '../config';
import { EventBus } from '../events/event-bus';
import { HistoryRepository } from '../storage/ports/history.repository';
import { HistoryAggregator } from './history.aggregator';
import { HistoryMetrics } from './history.metrics';

/** How late (capture to event) a frame may be and still count in its interval: pipeline latency under load. */
const LATE_FRAME_GRACE_MS = 2000;

/**
 * The EventBus's expression events → history rows. Per frame it only adds scores into an open interval (no I/O);
 * a timer every HISTORY_FLUSH_MS closes the intervals that are over and writes the closed rows in one transaction
 * (WAL: a few hundred microseconds for 8 rows). The buffer is bounded (HISTORY_MAX_PENDING, drops counted), so a
 * stalled disk costs rows, never the pipeline's memory or latency. HISTORY=off: not subscribed at all.
 */
@Injectable()
export class HistoryRecorder implements OnModuleInit, BeforeApplicationShutdown {
  private readonly log = new Logger('History');
  private readonly aggregator: HistoryAggregator;
  private readonly subscription = new Subscription();
  private timer?: NodeJS.Timeout;
  private droppedSeen = 0;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(EventBus) private readonly bus: EventBus,
    @Inject(HistoryRepository) private readonly repo: HistoryRepository,
    @Inject(HistoryMetrics) private readonly metrics: HistoryMetrics,
  ) {
    this.aggregator = new HistoryAggregator({ resolutionMs: config.HISTORY_RESOLUTION_MS, maxPending: config.HISTORY_MAX_PENDING });
  }

  onModuleInit(): void {
    // A deleted user's buffered rows go even with HISTORY=off (there are none then, but the rule is one rule).
    this.subscription.add(this.bus.on('user.deleted').subscribe((e) => this.aggregator.forgetUser(e.payload.userId)));
    if (!this.config.HISTORY) return;
    this.subscription.add(
      this.bus.on('expression', 'face.leave', 'camera.removed').subscribe((e) => {
        try {
          if (e.name === 'expression') this.aggregator.add(e.payload);
          else if (e.name === 'face.leave') this.aggregator.closeTrack(e.payload.cameraId, e.payload.trackId);
          else this.aggregator.closeCamera(e.payload.cameraId);
        } catch (err) {
          this.log.warn(`history: event ignored: ${String(err)}`);
        }
      }),
    );
    this.timer = setInterval(() => this.flush(), this.config.HISTORY_FLUSH_MS);
    this.timer.unref();
  }

  /**
   * Closes the intervals over for LATE_FRAME_GRACE_MS (a frame a little late still lands in its own; a later one is
   * dropped, never written twice), and writes every closed row. `all`: close everything (shutdown).
   */
  flush(all = false): number {
    if (all) this.aggregator.closeAll();
    else this.aggregator.closeBefore(Date.now() - this.config.HISTORY_RESOLUTION_MS - LATE_FRAME_GRACE_MS);
    const rows = this.aggregator.take();
    this.countDrops();
    if (rows.length === 0) return 0;
    const end = this.metrics.flushMs.startTimer();
    try {
      this.repo.insertMany(rows);
      this.metrics.rowsWritten.inc(rows.length);
      return rows.length;
    } catch (err) {
      this.metrics.rowsDropped.inc({ reason: 'write_failed' }, rows.length);
      this.log.warn(`history: ${rows.length} rows not written: ${err instanceof Error ? err.message : String(err)}`);
      return 0;
    } finally {
      end();
      this.metrics.pending.set(this.aggregator.pendingCount);
    }
  }

  /** Before any module's onApplicationShutdown (StorageModule closes the database there). */
  beforeApplicationShutdown(): void {
    this.subscription.unsubscribe();
    if (this.timer) clearInterval(this.timer);
    if (this.config.HISTORY) this.flush(true);
  }

  private countDrops(): void {
    const dropped = this.aggregator.dropped - this.droppedSeen;
    if (dropped > 0) this.metrics.rowsDropped.inc({ reason: 'buffer_full' }, dropped);
    this.droppedSeen = this.aggregator.dropped;
  }
}
