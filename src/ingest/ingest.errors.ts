import { CodedError, type ErrorCode } from '../contracts/errors';

/**
 * An ingest failure: a CodedError, so the edge maps it to a WS `error` message or an HTTP 4xx/5xx as it is thrown.
 * `message` never contains credentials (URLs in it are passed through `redactUrl`).
 */
export class IngestError extends CodedError {
  override readonly name = 'IngestError';
  constructor(
    code: ErrorCode,
    message: string,
    /** false: retrying the same thing cannot help (bad URL, ffmpeg missing, not a video file). */
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
