import type { ErrorCode } from '../../contracts/errors';
import { LABEL_NAMES, type LabelName } from '../../contracts/labels';
import type { ModelVersionView } from '../../contracts/personalization';
import { ModelRegistry, RegistryError } from '../registry/model.registry';
import { FinetuneJobError, FinetuneRunner } from './finetune.runner';
import type { FinetuneSession } from './finetune.sessions';
import { FinetuneOptions, FinetuneProgress, FinetuneSample } from './finetune.trainer';
import { GeneralAssetPaths } from './general-assets';

export class FinetuneServiceError extends Error {
  constructor(
    readonly code: Extract<ErrorCode, 'too_few_samples' | 'busy' | 'not_found' | 'unavailable' | 'internal'> | 'cancelled',
    message: string,
  ) {
    super(message);
  }
}

export interface FinetuneServiceOptions {
  paths: Pick<GeneralAssetPaths, 'trunk' | 'head' | 'trainStep' | 'headForward' | 'replay' | 'replayMeta'>;
  /** ONNX Runtime settings of the worker's sessions (provider, threads, spin): finetuneSession(config) */
  session: FinetuneSession;
  minSamplesPerLabel: number;
  /** jobs at once across all users (each one wants every core it is given) */
  maxConcurrent: number;
}

/**
 * One fine-tune: check the samples, train in a worker, store the version and activate it (live streams switch on the
 * registry's next headFor()). The caller (WS/REST handlers) loads the user's samples and relays progress events.
 */
export class FinetuneService {
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly runner: FinetuneRunner,
    private readonly registry: ModelRegistry,
    private readonly options: FinetuneServiceOptions,
  ) {}

  /** Per label counts that are missing or under the minimum, e.g. { disgust: 0 }; empty = enough. */
  shortLabels(samples: readonly FinetuneSample[]): Partial<Record<LabelName, number>> {
    const counts = new Array<number>(LABEL_NAMES.length).fill(0);
    for (const s of samples) counts[s.label]++;
    const short: Partial<Record<LabelName, number>> = {};
    counts.forEach((n, i) => {
      if (n < this.options.minSamplesPerLabel) short[LABEL_NAMES[i]] = n;
    });
    return short;
  }

  isRunning(userId: string): boolean {
    return this.running.has(userId);
  }

  async finetune(
    userId: string,
    samples: FinetuneSample[],
    opts: { epochs?: number; onProgress?: (p: FinetuneProgress) => void; trainer?: Partial<FinetuneOptions> } = {},
  ): Promise<ModelVersionView> {
    this.registry.activeVersion(userId); // throws not_found for an unknown user
    const short = this.shortLabels(samples);
    if (Object.keys(short).length) {
      const list = Object.entries(short).map(([l, n]) => `${l} ${n}`).join(', ');
      throw new FinetuneServiceError('too_few_samples', `need at least ${this.options.minSamplesPerLabel} sample(s) of every expression; have ${list}`);
    }
    if (this.running.has(userId)) throw new FinetuneServiceError('busy', `user ${userId} is already fine-tuning`);
    if (this.running.size >= this.options.maxConcurrent) throw new FinetuneServiceError('busy', 'another fine-tune is running; try again when it ends');
    const abort = new AbortController();
    this.running.set(userId, abort);
    try {
      const result = await this.runner.run(
        {
          paths: this.options.paths,
          samples,
          options: { ...opts.trainer, ...(opts.epochs ? { epochs: opts.epochs } : {}) },
          session: this.options.session,
        },
        { onProgress: opts.onProgress, signal: abort.signal },
      );
      return await this.registry.save(userId, result.weights, result.metrics, { activate: true });
    } catch (e) {
      if (e instanceof FinetuneServiceError) throw e;
      if (e instanceof RegistryError) throw new FinetuneServiceError(e.code, e.message);
      if (e instanceof FinetuneJobError) {
        throw new FinetuneServiceError(e.code === 'bad_job' ? 'internal' : e.code, e.message);
      }
      throw new FinetuneServiceError('internal', (e as Error).message);
    } finally {
      this.running.delete(userId);
    }
  }

  cancel(userId: string): boolean {
    const a = this.running.get(userId);
    a?.abort();
    return a !== undefined;
  }
}
