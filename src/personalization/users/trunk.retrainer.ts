import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { CodedError } from '../../contracts/errors';
import { ModelRegistry } from '../registry/model.registry';
import { FinetuneJobs } from './finetune.jobs';

/** Wait before asking again when the fine-tune slot is taken (someone's own fine-tune is running). */
const BUSY_RETRY_MS = 2_000;

/**
 * When the shipped trunk changes, every user whose active head was trained on another trunk is served by the general
 * model (ModelRegistry.init leaves such a head unloaded: personalized false) and retrained here from their stored
 * samples: in the background after start-up, one user at a time, through FinetuneJobs (so the usual finetune.progress
 * and model.updated / finetune.failed events go out on the bus, and the new version, recorded against the shipped
 * trunk, is activated). A user who cannot be retrained (too few samples left) stays on the general model, logged.
 * docs/PERSONALIZATION.md, "When the trunk changes".
 */
@Injectable()
export class TrunkRetrainer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('TrunkRetrainer');
  private stopped = false;
  private current: string | null = null;
  private run: Promise<void> = Promise.resolve();

  constructor(
    @Inject(ModelRegistry) private readonly registry: ModelRegistry,
    @Inject(FinetuneJobs) private readonly jobs: FinetuneJobs,
  ) {}

  onApplicationBootstrap(): void {
    const users = this.registry.staleUsers();
    if (!users.length) return;
    this.logger.log(`${users.length} personal model(s) trained on another trunk: retraining from stored samples, one at a time`);
    this.run = this.retrainAll(users);
  }

  /** Resolves when every retrain queued at start-up has ended (tests, shutdown). */
  settled(): Promise<void> {
    return this.run;
  }

  private async retrainAll(users: string[]): Promise<void> {
    for (const userId of users) {
      if (this.stopped) return;
      // replaced meanwhile (the user fine-tuned or activated a version themselves), or deleted
      if (!this.registry.staleUsers().includes(userId)) continue;
      try {
        await this.retrain(userId);
      } catch (e) {
        this.logger.warn(`retrain of ${userId} on the new trunk failed; general model until their next fine-tune: ${(e as Error).message}`);
      }
    }
  }

  private async retrain(userId: string): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      try {
        this.current = userId;
        await this.jobs.start(userId);
        // the job's outcome is published by FinetuneJobs (model.updated or finetune.failed)
        await this.jobs.settled(userId);
        return;
      } catch (e) {
        if (e instanceof CodedError && e.code === 'busy') {
          await new Promise((r) => setTimeout(r, BUSY_RETRY_MS).unref());
          continue;
        }
        throw e;
      } finally {
        this.current = null;
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.current) this.jobs.cancel(this.current);
    await this.run.catch(() => undefined);
  }
}
