import { CodedError, type ErrorCode } from '../../contracts/errors';
import type { LabelName } from '../../contracts/labels';

/** What only the fine-tune path tells apart inside one client-facing code: a cancelled run, a malformed job. */
export type FinetuneReason = 'cancelled' | 'bad_job';

/** A FinetuneError as it crosses the worker boundary (structured-clone safe). */
export interface FinetuneErrorMessage {
  type: 'error';
  code: ErrorCode;
  reason: FinetuneReason | null;
  message: string;
}

/**
 * The one error of the fine-tune path, thrown where the failure happens (trainer, worker, runner, service) and
 * passed through unchanged to the edge, which maps `code` like every CodedError. `reason` is for callers and tests
 * that must tell a cancelled run (code `conflict`) or a bad job (code `internal`) from other failures of that code.
 */
export class FinetuneError extends CodedError {
  override readonly name = 'FinetuneError';

  constructor(
    code: ErrorCode,
    message: string,
    readonly reason: FinetuneReason | null = null,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }

  /** `short`: per label counts under the minimum, e.g. { happy: 0 }. */
  static tooFewSamples(short: Partial<Record<LabelName, number>>): FinetuneError {
    const list = Object.entries(short)
      .map(([label, n]) => `${label}: ${n}`)
      .join(', ');
    return new FinetuneError('too_few_samples', `not enough samples of every expression (have ${list}); add photos or run calibration.start`);
  }

  static busy(message: string): FinetuneError {
    return new FinetuneError('busy', message);
  }

  static cancelled(): FinetuneError {
    return new FinetuneError('conflict', 'fine-tuning was cancelled', 'cancelled');
  }

  static badJob(message: string): FinetuneError {
    return new FinetuneError('internal', message, 'bad_job');
  }

  /** An unexpected failure (ORT, file system, a crashed worker) as `internal`, with the original as its cause. */
  static internal(err: unknown): FinetuneError {
    if (!(err instanceof Error)) return new FinetuneError('internal', String(err));
    return new FinetuneError('internal', err.message, null, { cause: err });
  }

  /** A CodedError (a registry error, say) as it is; anything else as `internal`. */
  static from(err: unknown): CodedError {
    return err instanceof CodedError ? err : FinetuneError.internal(err);
  }

  toMessage(): FinetuneErrorMessage {
    return { type: 'error', code: this.code, reason: this.reason, message: this.message };
  }

  static fromMessage(m: Omit<FinetuneErrorMessage, 'type'>): FinetuneError {
    return new FinetuneError(m.code, m.message, m.reason);
  }
}
