import { describe, expect, it } from 'vitest';
import { ClusterStartupError, StartupRetry } from './startup-retry';

/** A virtual clock: sleep() advances it, so the budget is exercised without waiting. */
function virtual() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    advance: (ms: number) => (t += ms),
    sleeps,
  };
}

const timeout = () => Object.assign(new Error('timeout'), { name: 'TimeoutError' });

describe('StartupRetry', () => {
  it('retries a step that times out, with growing bounded waits and a log line naming what it waits for, until it answers', async () => {
    const clock = virtual();
    const warnings: string[] = [];
    const retry = new StartupRetry({ servers: 'nats://***@a:4222', warn: (m) => warnings.push(m), now: clock.now, sleep: clock.sleep });
    let calls = 0;
    const value = await retry.run('opening the object store iex-blobs', async () => {
      calls++;
      if (calls < 6) throw timeout();
      return 'store';
    });
    expect(value).toBe('store');
    expect(calls).toBe(6);
    expect(clock.sleeps).toEqual([250, 500, 1000, 2000, 2000]);
    expect(warnings).toHaveLength(5);
    expect(warnings[0]).toMatch(/waiting for JetStream: opening the object store iex-blobs failed \(attempt 1: timeout\)/);
  });

  it('gives up once no step has succeeded for the budget: a ClusterStartupError naming the step and NATS_URL', async () => {
    const clock = virtual();
    const retry = new StartupRetry({ servers: 'nats://***@a:4222,nats://b:4222', totalMs: 60_000, warn: () => undefined, now: clock.now, sleep: clock.sleep });
    // a first step that succeeds after 50 s of timeouts: progress, so the next step has the whole budget again
    await retry.run('loading bucket iex-state-users', async () => {
      if (clock.now() < 50_000) {
        clock.advance(5_000); // a request timing out after 5 s
        throw timeout();
      }
      return 1;
    });
    const progressAt = clock.now();
    let calls = 0;
    const failing = retry.run('loading bucket iex-state-models', async () => {
      calls++;
      clock.advance(5_000);
      throw timeout();
    });
    const err = await failing.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterStartupError);
    expect((err as ClusterStartupError).code).toBe('unavailable');
    expect((err as Error).message).toBe(
      'cannot join the cluster: loading bucket iex-state-models: JetStream at nats://***@a:4222,nats://b:4222 (NATS_URL) did not answer within 60 s: timeout',
    );
    expect(clock.now() - progressAt).toBeGreaterThanOrEqual(60_000);
    expect(clock.now() - progressAt).toBeLessThanOrEqual(65_000); // the budget, plus at most the step in flight
    expect(calls).toBeGreaterThan(5);
  });
});
