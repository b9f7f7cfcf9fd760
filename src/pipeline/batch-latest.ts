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
  scheduler?: SchedulerLike;
}

/**
 * Latest-wins per key + batching by size or timeout + one batch in flight at a time.
 *
 * Overload policy: at most ONE item per key waits; a newer item of that key replaces it (the replaced one is counted
 * through `onDrop`). Nothing queues without bound, so a slow processor lowers the processed rate per camera instead
 * of growing latency. While `process` runs, waiting items accumulate (one per key); when it completes, a full batch
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
  if (maxBatch < 1) throw new RangeError('maxBatch must be >= 1');
  return (source) =>
    new Observable<R>((subscriber) => {
      const scheduler = options.scheduler ?? asyncScheduler;
      /** Insertion order = order in which keys started waiting; a replacement keeps its key's place and age. */
      const waiting = new Map<string, { item: T; since: number }>();
      let busy = false;
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
        busy = true;
        let sub: Subscription | undefined;
        let doneSync = false;
        sub = from(process(batch)).subscribe({
          next: (r) => subscriber.next(r),
          error: (err) => subscriber.error(err),
          complete: () => {
            busy = false;
            if (sub) running.remove(sub);
            else doneSync = true;
            decide();
          },
        });
        if (!doneSync && !sub.closed) running.add(sub);
      };

      const decide = (): void => {
        if (busy || subscriber.closed) return;
        if (waiting.size === 0) {
          if (sourceDone) subscriber.complete();
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
