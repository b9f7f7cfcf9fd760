import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { CodedError } from '../../contracts/errors';
import { LABEL_NAMES } from '../../contracts/labels';
import type { FinetuneJobView, ModelVersionView } from '../../contracts/personalization';
import { EventBus } from '../../events/event-bus';
import { FinetuneService } from '../finetune/finetune.service';
import { IdentityResolver } from '../identity/identity.resolver';
import { SampleStore } from '../samples/sample.store';

export interface FinetuneStarted {
  /** follow it with GET /api/users/:userId/finetune/:jobId */
  jobId: string;
  userId: string;
  samples: number;
  state: FinetuneJobView['state'];
  /** The new version becomes the user's active model as soon as the job is done (no model.activate needed). */
  activatesWhenDone: true;
}

/** Finished jobs kept for GET (per process, oldest dropped first); running ones are never dropped. */
const KEPT_FINISHED_JOBS = 200;

/**
 * finetune.start / POST /api/users/:id/finetune: validates synchronously (unknown user, too few samples, busy) so the
 * caller gets a typed error, then trains in the background: finetune.progress events, then model.updated (the head
 * is live from then on) or finetune.failed. Events go to the caller and to subscribers of the user's bound cameras.
 */
@Injectable()
export class FinetuneJobs {
  private readonly logger = new Logger('Finetune');
  private readonly jobs = new Map<string, Promise<ModelVersionView | null>>();
  /** Every job this process started, by job id, in start order (Map keeps insertion order). */
  private readonly views = new Map<string, FinetuneJobView>();

  constructor(
    @Inject(FinetuneService) private readonly finetune: FinetuneService,
    @Inject(SampleStore) private readonly store: SampleStore,
    @Inject(IdentityResolver) private readonly identity: IdentityResolver,
    @Inject(EventBus) private readonly bus: EventBus,
  ) {}

  async start(userId: string, options: { epochs?: number; /** Connection.id of the commanding client */ originId?: string } = {}): Promise<FinetuneStarted> {
    this.identity.requireUser(userId);
    const loaded = await this.store.load(userId);
    const samples = loaded.map((s) => ({ label: LABEL_NAMES.indexOf(s.record.label as (typeof LABEL_NAMES)[number]), face: s.face })).filter((s) => s.label >= 0);
    // to the caller and to the subscribers of the user's cameras (cameraIds [] = the caller only)
    const audience = () => ({ originId: options.originId, cameraIds: this.identity.camerasOf(userId) });
    const view: FinetuneJobView = {
      id: `ft${randomBytes(6).toString('hex')}`,
      userId,
      state: 'queued',
      samples: samples.length,
      progress: null,
      result: null,
      error: null,
      createdAt: Date.now(),
      finishedAt: null,
    };
    const finish = (state: 'done' | 'failed', patch: Pick<FinetuneJobView, 'result' | 'error'>) =>
      Object.assign(view, { state, finishedAt: Date.now() }, patch);
    // too few samples, busy: the service's typed error is this call's error
    const { done } = this.finetune.begin(userId, samples, {
      epochs: options.epochs,
      onProgress: (p) => {
        view.state = 'running';
        view.progress = { epoch: p.epoch, of: p.of, loss: p.loss, accuracy: p.accuracy, etaSeconds: p.etaSeconds };
        this.bus.emit({ type: 'finetune.progress', userId, ...view.progress }, audience());
      },
    });
    const job = done
      .then(
        (v) => {
          finish('done', { result: v, error: null });
          this.bus.emit({ type: 'model.updated', userId, version: v.version, metrics: v.metrics, active: v.active }, audience());
          return v;
        },
        // the service rejects `done` with a CodedError only (a cancelled run: `conflict`)
        (err: CodedError) => {
          finish('failed', { result: null, error: { code: err.code, message: err.message } });
          this.logger.warn(`fine-tune of ${userId} failed: ${err.message}`);
          this.bus.emit({ type: 'finetune.failed', userId, code: err.code, message: err.message }, audience());
          return null;
        },
      )
      .finally(() => this.jobs.delete(userId));
    this.jobs.set(userId, job);
    this.keep(view);
    return { jobId: view.id, userId, samples: samples.length, state: view.state, activatesWhenDone: true };
  }

  /** A job's state, progress and result; null when this process has no such job for that user. */
  job(userId: string, jobId: string): FinetuneJobView | null {
    const view = this.views.get(jobId);
    return view && view.userId === userId ? structuredClone(view) : null;
  }

  private keep(view: FinetuneJobView): void {
    this.views.set(view.id, view);
    for (const [id, v] of this.views) {
      if (this.views.size <= KEPT_FINISHED_JOBS) break;
      if (v.finishedAt !== null) this.views.delete(id);
    }
  }

  /** Resolves when the user's running job ends (tests, shutdown). */
  async settled(userId: string): Promise<void> {
    await this.jobs.get(userId);
  }

  cancel(userId: string): boolean {
    return this.finetune.cancel(userId);
  }
}
