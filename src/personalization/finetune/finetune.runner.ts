import { Worker } from 'node:worker_threads';
import type { FinetuneMetrics } from '../../contracts/personalization';
import { WorkerEntry, workerEntryFor } from '../../inference/worker-entry';
import { FinetuneError } from './finetune.errors';
import { FinetuneJob, FromWorker } from './finetune.messages';
import { FinetuneProgress } from './finetune.trainer';
import { HeadWeights, splitHead } from '../../inference/heads/head-shape';

export interface FinetuneRunResult {
  weights: HeadWeights;
  metrics: FinetuneMetrics;
  /** the worker's thread id (never the main thread's 0) */
  threadId: number;
}

export type { WorkerEntry };

export function workerEntry(dir: string = __dirname): WorkerEntry {
  return workerEntryFor(dir, 'finetune.worker');
}

/**
 * Runs fine-tuning jobs in worker threads, one worker per job (its memory goes back when it ends). A run rejects with
 * a FinetuneError: the worker's own (posted as a message), `cancelled`, or `internal` for a crashed worker.
 */
export class FinetuneRunner {
  constructor(private readonly entry = workerEntry()) {}

  run(job: FinetuneJob, opts: { onProgress?: (p: FinetuneProgress) => void; signal?: AbortSignal } = {}): Promise<FinetuneRunResult> {
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) return reject(FinetuneError.cancelled());
      const worker = new Worker(this.entry.file, { workerData: job, eval: this.entry.eval });
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        opts.signal?.removeEventListener('abort', onAbort);
        fn();
        // the worker releases its sessions and exits on its own after 'done'/'error'; terminate covers a hung one
        setTimeout(() => void worker.terminate(), 5_000).unref();
      };
      const onAbort = () => {
        worker.postMessage({ type: 'cancel' });
        // a step in flight finishes first (tens of ms); if the worker does not answer, cut it off
        setTimeout(() => {
          finish(() => reject(FinetuneError.cancelled()));
          void worker.terminate();
        }, 2_000).unref();
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'progress') {
          const { type: _t, ...p } = m;
          opts.onProgress?.(p);
        } else if (m.type === 'done') {
          finish(() => resolve({ weights: splitHead(m.weights), metrics: m.metrics, threadId: m.threadId }));
        } else if (m.type === 'error') {
          finish(() => reject(FinetuneError.fromMessage(m)));
        }
      });
      worker.on('error', (e) => finish(() => reject(FinetuneError.internal(e))));
      worker.on('exit', (code) => finish(() => reject(FinetuneError.internal(`fine-tune worker exited (${code}) without a result`))));
    });
  }
}
