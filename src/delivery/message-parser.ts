import type { z } from 'zod';
import { ClientMessage, ClientMessageSchema } from '../contracts/commands';
import { ErrorCode } from '../contracts/errors';

export type ParseResult =
  | { ok: true; message: ClientMessage }
  | { ok: false; id: string | null; code: ErrorCode; message: string };

const SCHEMAS = new Map<string, z.ZodType<ClientMessage>>(
  ClientMessageSchema.options.map((o) => [o.shape.type.value as string, o as unknown as z.ZodType<ClientMessage>]),
);
const MAX_DETAIL = 300;

function clip(s: string, n = MAX_DETAIL): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** The `id` to echo in an error: only when it is a string the protocol would accept. */
function correlationId(obj: Record<string, unknown>): string | null {
  const id = obj.id;
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : null;
}

/** "cameras: Invalid input: expected array, received number; name: Too big…": the fields at fault, first three. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], input?: Record<string, unknown>): string {
  const parts = issues.slice(0, 3).map((i) => {
    const path = i.path.map(String).join('.');
    const missing = input !== undefined && i.path.length === 1 && input[String(i.path[0])] === undefined;
    return path ? `${clip(path, 60)}: ${missing ? 'required' : i.message}` : i.message;
  });
  if (issues.length > 3) parts.push(`(${issues.length - 3} more)`);
  return clip(parts.join('; '));
}

/**
 * Text message -> typed ClientMessage, or the typed error to answer with. The error message names the field at
 * fault but never echoes the input (which could hold a token or a camera URL with a password).
 */
export function parseClientMessage(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, id: null, code: 'bad_json', message: 'message is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, id: null, code: 'bad_message', message: 'message must be a JSON object with a string "type"' };
  }
  const obj = value as Record<string, unknown>;
  const id = correlationId(obj);
  if (typeof obj.type !== 'string') {
    return { ok: false, id, code: 'bad_message', message: 'type: expected a string naming the message type' };
  }
  const schema = SCHEMAS.get(obj.type);
  if (!schema) {
    const shown = /^[\w.-]{1,64}$/.test(obj.type) ? `"${obj.type}"` : '(not shown)';
    return { ok: false, id, code: 'unknown_type', message: `unknown message type ${shown}` };
  }
  const parsed = schema.safeParse(obj);
  if (!parsed.success) {
    return { ok: false, id, code: 'bad_message', message: `${obj.type}: ${describeIssues(parsed.error.issues, obj)}` };
  }
  return { ok: true, message: parsed.data };
}
