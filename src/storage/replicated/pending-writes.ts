import { AsyncLocalStorage } from 'node:async_hooks';
import { CodedError } from '../../contracts/errors';
import { WriteAcknowledgement } from '../ports/write-acknowledgement';

/** JetStream did not store a change (NATS unreachable, timed out, no quorum): the client sees 503 `unavailable`. */
export class ReplicationUnavailableError extends CodedError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('unavailable', `the cluster did not store the change (${detail}); nothing was changed, try again`, options);
  }
}

/**
 * The replicated writes still on their way to JetStream, per request. A write made inside run() (any await depth: it
 * is an AsyncLocalStorage scope) is tracked there; run() resolves with the handler's result only after each tracked
 * write resolved, and rejects with ReplicationUnavailableError when one failed. Writes made outside any scope (timers,
 * background jobs) are tracked globally so that drain() (shutdown) waits for them; their failures go to `onOrphanError`.
 */
export class PendingWrites extends WriteAcknowledgement {
  private readonly als = new AsyncLocalStorage<Set<Promise<void>>>();
  private readonly background = new Set<Promise<void>>();

  constructor(private readonly onOrphanError: (err: unknown) => void = () => {}) {
    super();
  }

  track(write: Promise<void>): void {
    const scope = this.als.getStore();
    if (scope) {
      scope.add(write);
      write.catch(() => {}); // awaited (and reported) by run()
      return;
    }
    this.background.add(write);
    write.catch((e) => this.onOrphanError(e)).finally(() => this.background.delete(write));
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const scope = new Set<Promise<void>>();
    const result = await this.als.run(scope, fn);
    await PendingWrites.settle(scope);
    return result;
  }

  /** Every write tracked outside a request, including those started while waiting. */
  async drain(): Promise<void> {
    while (this.background.size) await Promise.allSettled([...this.background]);
  }

  /** How many writes are in flight outside requests (metrics, tests). */
  get backgroundCount(): number {
    return this.background.size;
  }

  private static async settle(scope: Set<Promise<void>>): Promise<void> {
    let failure: unknown = null;
    while (scope.size) {
      const batch = [...scope];
      scope.clear();
      for (const r of await Promise.allSettled(batch)) if (r.status === 'rejected' && failure === null) failure = r.reason;
    }
    if (failure !== null) {
      if (failure instanceof CodedError) throw failure;
      throw new ReplicationUnavailableError(failure instanceof Error ? failure.message : String(failure), { cause: failure });
    }
  }
}
