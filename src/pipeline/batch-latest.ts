import { asyncScheduler, from, Observable, ObservableInput, OperatorFunction, SchedulerLike, Subscription } from 'rxjs';

export interface BatchLatestOptions<T> {
  /** Items with the same key replace each other while they wait (one camera = one key). */
  key: (item: T) => string;
  /** Most items per batch (BATCH_SIZE); 1 = no batching. */
  maxBatch: number;
  /** How long the oldest waiting item may wait for a batch to fill while the processor is idle (BATCH_TIMEOUT_MS). */
  timeoutMs: number;
  /** Called with every item that a newer item of the same key replaced before it was processed. */
  onDrop?: (dropped: T) => void;
  /** Batches in flight at once (default 1). With 2, a new batch may start while the previous one finishes. */
  concurrency?: number;
  scheduler?: SchedulerLike;
}

/**
 * Latest-wins per key + batching by size or timeout + at most `concurrency` batches in flight (default 1).
 *
 * Overload policy: at most ONE item per key waits; a newer item of that key replaces it (the replaced one is counted
 * through `onDrop`). Nothing queues without bound, so a slow processor lowers the processed rate per camera instead
 * of growing latency. While `process` runs (`concurrency` of them), waiting items accumulate (one per key); when one
 * completes, a full batch
 * (or one whose oldest item has waited `timeoutMs`) starts at once, otherwise the timer fills the rest. Keys are served
 * oldest-waiting first, so with more cameras than `maxBatch` every camera still gets its turn.
 *
 * `process` should catch its own errors (a failed batch is an event, not the end of the stream); an error that escapes
 * it ends the output with that error.
 */
export function batchLatestPerKey<T, R>(
  options: BatchLatestOptions<T>,
  process: (batch: T[]) => ObservableInput<R>,
): OperatorFunction<T, R> {
  const { key, maxBatch, timeoutMs, onDrop } = options;
  const concurrency = options.concurrency ?? 1;
  if (maxBatch < 1) throw new RangeError('maxBatch must be >= 1');
  return (source) =>
    new Observable<R>((subscriber) => {
      const scheduler = options.scheduler ?? asyncScheduler;
      /** Insertion order = order in which keys started waiting; a replacement keeps its key's place and age. */
      const waiting = new Map<string, { item: T; since: number }>();
      let inFlight = 0;
      let sourceDone = false;
      let timer: Subscription | null = null;
      const running = new Subscription();

      const flush = (): void => {
        timer?.unsubscribe();
        timer = null;
        const batch: T[] = [];
        for (const [k, w] of waiting) {
          if (batch.length >= maxBatch) break;
          batch.push(w.item);
          waiting.delete(k);
        }
        inFlight++;
        // `complete` may run synchronously, before subscribe() has returned the subscription
        const handle: { sub?: Subscription; doneSync?: boolean } = {};
        handle.sub = from(process(batch)).subscribe({
          next: (r) => subscriber.next(r),
          error: (err) => subscriber.error(err),
          complete: () => {
            inFlight--;
            if (handle.sub) running.remove(handle.sub);
            else handle.doneSync = true;
            decide();
          },
        });
        if (!handle.doneSync && !handle.sub.closed) running.add(handle.sub);
      };

      const decide = (): void => {
        if (inFlight >= concurrency || subscriber.closed) return;
        if (waiting.size === 0) {
          if (sourceDone && inFlight === 0) subscriber.complete();
          return;
        }
        if (waiting.size >= maxBatch || sourceDone) return flush();
        const oldest = waiting.values().next().value!.since;
        const wait = oldest + timeoutMs - scheduler.now();
        if (wait <= 0) return flush();
        timer ??= scheduler.schedule(() => {
          timer = null;
          decide();
        }, wait);
      };

      const input = source.subscribe({
        next: (item) => {
          const k = key(item);
          const w = waiting.get(k);
          if (w) {
            onDrop?.(w.item);
            w.item = item;
          } else {
            waiting.set(k, { item, since: scheduler.now() });
          }
          decide();
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          decide();
        },
      });

      return () => {
        input.unsubscribe();
        timer?.unsubscribe();
        running.unsubscribe();
      };
    });
}
