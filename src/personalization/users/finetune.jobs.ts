import { Inject, Injectable, Logger } from '@nestjs/common';
import { CodedError } from '../../delivery/coded-error';
import type { Connection } from '../../delivery/connection';
import type { ErrorCode, ModelVersionView } from '../../delivery/protocol';
import { LABELS } from '../../inference/labels';
import { FinetuneService, FinetuneServiceError } from '../finetune/finetune.service';
import { IdentityResolver } from '../identity/identity.resolver';
import { PersonalizationEvents } from '../personalization.events';
import { SampleStore } from '../samples/sample.store';

export interface FinetuneStarted {
  userId: string;
  samples: number;
}

/**
 * finetune.start / POST /api/users/:id/finetune: validates synchronously (unknown user, too few samples, busy) so the
 * caller gets a typed error, then trains in the background: finetune.progress events, then model.updated (the head
 * is live from then on) or finetune.failed. Events go to the caller and to subscribers of the user's bound cameras.
 */
@Injectable()
export class FinetuneJobs {
  private readonly logger = new Logger('Finetune');
  private readonly jobs = new Map<string, Promise<ModelVersionView | null>>();

  constructor(
    @Inject(FinetuneService) private readonly finetune: FinetuneService,
    @Inject(SampleStore) private readonly store: SampleStore,
    @Inject(IdentityResolver) private readonly identity: IdentityResolver,
    @Inject(PersonalizationEvents) private readonly events: PersonalizationEvents,
  ) {}

  async start(userId: string, options: { epochs?: number; origin?: Connection | null } = {}): Promise<FinetuneStarted> {
    this.identity.requireUser(userId);
    if (this.finetune.isRunning(userId)) throw new CodedError('busy', `user "${userId}" is already fine-tuning`);
    const loaded = await this.store.load(userId);
    const samples = loaded.map((s) => ({ label: LABELS.indexOf(s.record.label as (typeof LABELS)[number]), face: s.face })).filter((s) => s.label >= 0);
    const short = this.finetune.shortLabels(samples);
    if (Object.keys(short).length) {
      const list = Object.entries(short).map(([l, n]) => `${l}: ${n}`).join(', ');
      throw new CodedError('too_few_samples', `not enough samples of every expression (have ${list}); add photos or run calibration.start`);
    }
    const audience = () => ({ origin: options.origin, cameraIds: this.identity.camerasOf(userId) });
    let early: FinetuneServiceError | null = null;
    let settled = false;
    const job = this.finetune
      .finetune(userId, samples, {
        epochs: options.epochs,
        onProgress: (p) =>
          this.events.publish(
            { type: 'finetune.progress', userId, epoch: p.epoch, of: p.of, loss: p.loss, accuracy: p.accuracy, etaSeconds: p.etaSeconds },
            audience(),
          ),
      })
      .then(
        (v) => {
          this.events.publish({ type: 'model.updated', userId, version: v.version, metrics: v.metrics, active: v.active }, audience());
          return v;
        },
        (e: unknown) => {
          const err = e instanceof FinetuneServiceError ? e : new FinetuneServiceError('internal', (e as Error).message);
          if (!settled) {
            early = err;
            return null;
          }
          const code: ErrorCode = err.code === 'cancelled' ? 'conflict' : err.code;
          this.logger.warn(`fine-tune of ${userId} failed: ${err.message}`);
          this.events.publish({ type: 'finetune.failed', userId, code, message: err.message }, audience());
          return null;
        },
      )
      .finally(() => this.jobs.delete(userId));
    // The service refuses (busy, not_found) before it awaits anything: let that rejection surface as this call's error.
    await new Promise((r) => setImmediate(r));
    settled = true;
    if (early) {
      const e = early as FinetuneServiceError;
      throw new CodedError(e.code === 'cancelled' ? 'conflict' : e.code, e.message);
    }
    this.jobs.set(userId, job);
    return { userId, samples: samples.length };
  }

  /** Resolves when the user's running job ends (tests, shutdown). */
  async settled(userId: string): Promise<void> {
    await this.jobs.get(userId);
  }

  cancel(userId: string): boolean {
    return this.finetune.cancel(userId);
  }
}
