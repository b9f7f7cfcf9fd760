import type { ErrorCode } from '../contracts/errors';

/**
 * An ingest failure the delivery layer can map to a WS `error` message or an HTTP 4xx/5xx.
 * `message` never contains credentials (URLs in it are passed through `redactUrl`).
 */
export class IngestError extends Error {
  override readonly name = 'IngestError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** false: retrying the same thing cannot help (bad URL, ffmpeg missing, not a video file). */
    readonly retryable = false,
  ) {
    super(message);
  }
}

export function isIngestError(err: unknown): err is IngestError {
  return err instanceof IngestError;
}
