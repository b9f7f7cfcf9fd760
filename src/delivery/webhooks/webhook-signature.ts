import { createHmac, randomBytes } from 'node:crypto';

/**
 * The signature of a delivery: HMAC-SHA256, under the rule's secret, of `${timestamp}.${body}`, where `timestamp` is
 * the X-IExpressionNet-Timestamp header (unix seconds) and `body` the exact bytes sent. Signing the timestamp with the
 * body lets a receiver refuse old deliveries (replays) without trusting an unsigned header. The header value is
 * `sha256=<lower-case hex>` (docs/INTEGRATIONS.md has the receiver's check).
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** A new signing secret: 32 random bytes. The prefix lets secret scanners recognise a leaked one. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}
