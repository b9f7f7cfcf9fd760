/** The error codes clients see, and the one error class that carries a code from where it happens to the edge. */

export const ERROR_CODES = [
  'bad_json',
  'bad_message',
  'unknown_type',
  'too_large',
  'rate_limited',
  'unauthorized',
  'forbidden',
  'not_found',
  'invalid_url',
  /** A camera (or webhook) URL whose host is, or resolves to, a link-local or cloud-metadata address (docs/INGEST.md). */
  'destination_forbidden',
  'conflict',
  'no_face',
  'several_faces',
  'too_few_samples',
  /** An upload that is not an image format the server decodes (docs/API.md lists them). */
  'unsupported_image',
  'busy',
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error the client should see as `{code, message}`; handlers and services throw it (the edge maps the code to HTTP). */
export class CodedError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const CODES = new Set<string>(ERROR_CODES);

/** True for anything shaped `{code: ErrorCode, message: string}` (a CodedError, or an error from another room). */
export function isCodedError(err: unknown): err is { code: ErrorCode; message: string } {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'string' &&
    CODES.has((err as { code: string }).code) &&
    typeof (err as { message?: unknown }).message === 'string'
  );
}
