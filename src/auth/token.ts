import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_PREFIX = 'iex_';

/** 32 random bytes, base64url: valid in an Authorization header and in a `bearer.<token>` WebSocket subprotocol. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * SHA-256 is enough for generated tokens: 256 bits of entropy cannot be brute-forced, so a slow salted hash (which
 * protects low-entropy passwords) would only cost latency on every request.
 */
export function hashToken(token: string): string {
  return 'sha256:' + createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time string comparison: both sides are hashed first, so lengths never leak either. */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}
