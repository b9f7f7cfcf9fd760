export interface BackoffOptions {
  /** First retry delay, ms. */
  initialMs?: number;
  /** Upper bound, ms. */
  maxMs?: number;
  factor?: number;
  /** 0..1: each delay is randomised by ±jitter so many clients do not reconnect in lockstep. */
  jitter?: number;
}

export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const { initialMs = 250, maxMs = 10_000, factor = 2, jitter = 0.2 } = options;
  const base = Math.min(maxMs, initialMs * factor ** attempt);
  return Math.round(base * (1 - jitter + Math.random() * 2 * jitter));
}
