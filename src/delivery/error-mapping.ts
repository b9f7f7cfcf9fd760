/** The edge's side of errors: the HTTP status of each error code, and secrets scrubbed from messages before they leave. */
import type { ErrorCode } from '../contracts/errors';
import { redactQuerySecrets } from '../ingest/camera-url';

/**
 * `scheme://user:pass@host` -> `scheme://***@host` and `?token=abc` -> `?token=***` (ingest's list of secret query
 * names), anywhere in a text. Defence in depth: ingest redacts too.
 */
export function scrubSecrets(text: string): string {
  return redactQuerySecrets(text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@"'<>]*@/gi, '$1***@'));
}

/** HTTP status for an error code. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_json: 400,
  bad_message: 400,
  unknown_type: 400,
  invalid_url: 400,
  destination_forbidden: 400,
  too_large: 413,
  rate_limited: 429,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  busy: 409,
  no_face: 422,
  several_faces: 422,
  too_few_samples: 422,
  unsupported_image: 415,
  unavailable: 503,
  internal: 500,
};
