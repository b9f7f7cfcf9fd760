import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { defer, lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { PendingWrites } from '../storage/replicated/pending-writes';
import { WriteAckInterceptor } from './write-ack.interceptor';

/** A handler that makes one tracked write (resolved or rejected by the test) and answers `answer`. */
function handlerWriting(pending: PendingWrites, write: Promise<void>, answer: unknown): CallHandler {
  return {
    handle: () =>
      defer(async () => {
        await Promise.resolve();
        pending.track(write);
        return answer;
      }),
  };
}

describe('WriteAckInterceptor', () => {
  it('answers only once the writes the handler made are stored', async () => {
    const pending = new PendingWrites();
    let store!: () => void;
    const write = new Promise<void>((r) => (store = r));
    const answer = lastValueFrom(new WriteAckInterceptor(pending).intercept({} as ExecutionContext, handlerWriting(pending, write, { id: 'u1' })));
    let answered = false;
    void answer.then(() => (answered = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(answered).toBe(false);
    store();
    await expect(answer).resolves.toEqual({ id: 'u1' });
  });

  it('turns a write JetStream did not store into unavailable (503 at the filter)', async () => {
    const pending = new PendingWrites();
    const answer = lastValueFrom(
      new WriteAckInterceptor(pending).intercept({} as ExecutionContext, handlerWriting(pending, Promise.reject(new Error('timeout')), { id: 'u1' })),
    );
    await expect(answer).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('a single node answers at once (no acknowledgement port bound)', async () => {
    const answer = await lastValueFrom(new WriteAckInterceptor().intercept({} as ExecutionContext, { handle: () => defer(async () => 7) }));
    expect(answer).toBe(7);
  });
});
