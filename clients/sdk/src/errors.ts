import type { ErrorCode } from '../../../src/contracts';

/** Errors the client raises on its own, beside the server's ERROR_CODES. */
export type ClientErrorCode = 'timeout' | 'disconnected' | 'closed' | 'network';
export type IExpressionErrorCode = ErrorCode | ClientErrorCode;

/** Every failed command or REST call rejects with this: `code` is stable and machine-readable, `message` is for people. */
export class IExpressionError extends Error {
  override readonly name = 'IExpressionError';
  constructor(
    readonly code: IExpressionErrorCode,
    message: string,
    /** HTTP status for REST errors. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export function isIExpressionError(err: unknown): err is IExpressionError {
  return err instanceof IExpressionError;
}
