import { LABEL_NAMES, type LabelName } from '../../contracts/labels';
import type { ModelVersionView } from '../../contracts/personalization';
import { ModelRegistry } from '../registry/model.registry';
import { FinetuneError } from './finetune.errors';
import { FinetuneRunner } from './finetune.runner';
import type { FinetuneSession } from './finetune.sessions';
import { FinetuneOptions, FinetuneProgress, FinetuneSample } from './finetune.trainer';
import { GeneralAssetPaths } from './general-assets';

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
 * Every refusal and failure is a CodedError (FinetuneError, or the registry's), thrown where it happens.
 */
export class FinetuneService {
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly runner: FinetuneRunner,
    private readonly registry: ModelRegistry,
    private readonly options: FinetuneServiceOptions,
  ) {}

  /** Per label counts that are missing or under the minimum, e.g. { disgust: 0 }; empty = enough. */
  private shortLabels(samples: readonly FinetuneSample[]): Partial<Record<LabelName, number>> {
    const counts = new Array<number>(LABEL_NAMES.length).fill(0);
    for (const s of samples) counts[s.label]++;
    const short: Partial<Record<LabelName, number>> = {};
    counts.forEach((n, i) => {
      if (n < this.options.minSamplesPerLabel) short[LABEL_NAMES[i]] = n;
    });
    return short;
  }

  /**
   * Checks synchronously, so the caller's own call fails with the typed error: unknown user (`not_found`), the user
   * already fine-tuning (`busy`), too few samples of some label (`too_few_samples`), all slots taken (`busy`). Then
   * reserves the user's slot and trains in the background: `done` resolves with the stored, active version or rejects
   * with a CodedError (`conflict` with reason `cancelled` after cancel()).
   */
  begin(
    userId: string,
    samples: FinetuneSample[],
    opts: { epochs?: number; onProgress?: (p: FinetuneProgress) => void; trainer?: Partial<FinetuneOptions> } = {},
  ): { done: Promise<ModelVersionView> } {
    this.registry.activeVersion(userId); // throws not_found for an unknown user
    if (this.running.has(userId)) throw FinetuneError.busy(`user "${userId}" is already fine-tuning`);
    const short = this.shortLabels(samples);
    if (Object.keys(short).length) throw FinetuneError.tooFewSamples(short);
    if (this.running.size >= this.options.maxConcurrent) throw FinetuneError.busy('another fine-tune is running; try again when it ends');
    const abort = new AbortController();
    this.running.set(userId, abort);
    const done = this.runner
      .run(
        {
          paths: this.options.paths,
          samples,
          options: { ...opts.trainer, ...(opts.epochs ? { epochs: opts.epochs } : {}) },
          session: this.options.session,
        },
        { onProgress: opts.onProgress, signal: abort.signal },
      )
      .then((result) => this.registry.save(userId, result.weights, result.metrics, { activate: true }))
      .catch((e: unknown) => {
        throw FinetuneError.from(e);
      })
      .finally(() => this.running.delete(userId));
    return { done };
  }

  /** begin() and wait: a refusal rejects like a failed run. */
  async finetune(
    userId: string,
    samples: FinetuneSample[],
    opts: { epochs?: number; onProgress?: (p: FinetuneProgress) => void; trainer?: Partial<FinetuneOptions> } = {},
  ): Promise<ModelVersionView> {
    return this.begin(userId, samples, opts).done;
  }

  cancel(userId: string): boolean {
    const a = this.running.get(userId);
    a?.abort();
    return a !== undefined;
  }
}
