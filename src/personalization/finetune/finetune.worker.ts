/**
 * Worker-thread entry: runs one fine-tuning job off the event loop that serves the cameras.
 * workerData = FinetuneJob; posts FromWorker messages; listens for { type: 'cancel' }.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { isCodedError } from '../../contracts/errors';
import { joinHead } from '../../inference/heads/head-shape';
import { FinetuneError, FinetuneTrainer } from './finetune.trainer';
import { FinetuneJobSchema, FromWorker, ToWorker } from './finetune.messages';
import { openTrainingSessions, trainingFactory, type TrainingSessions } from './finetune.sessions';
import { loadGeneralHead, loadReplay } from './general-assets';

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('finetune.worker must run in a worker thread');
  const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  const abort = new AbortController();
  port.on('message', (m: ToWorker) => {
    if (m?.type === 'cancel') abort.abort();
  });

  const parsed = FinetuneJobSchema.safeParse(workerData);
  if (!parsed.success) {
    post({ type: 'error', code: 'bad_job', message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
    return;
  }
  const job = parsed.data;
  // the same factory as the server's sessions: an EXECUTION_PROVIDER that cannot start fails here the way it fails there
  let sessions: TrainingSessions;
  try {
    sessions = await openTrainingSessions(trainingFactory(job.session), job.paths);
  } catch (e) {
    const code = isCodedError(e) && e.code === 'unavailable' ? 'unavailable' : 'internal';
    post({ type: 'error', code, message: e instanceof Error ? e.message : String(e) });
    port.close();
    return;
  }
  const { trunk, step, forward } = sessions;
  try {
    const general = loadGeneralHead(job.paths.head);
    const replay = loadReplay(job.paths.replay, job.paths.replayMeta);
    const trainer = new FinetuneTrainer({ trunk, step, forward });
    const result = await trainer.train(job.samples, general, replay, job.options ?? {}, (p) => post({ type: 'progress', ...p }), abort.signal);
    const flat = joinHead(result.weights);
    post({ type: 'done', weights: flat, metrics: result.metrics, threadId }, [flat.buffer as ArrayBuffer]);
  } catch (e) {
    if (e instanceof FinetuneError) post({ type: 'error', code: e.code, message: e.message });
    else post({ type: 'error', code: 'internal', message: e instanceof Error ? e.message : String(e) });
  } finally {
    await sessions.release();
    port.close(); // lets the worker exit (the cancel listener would keep it alive)
  }
}

main().catch((e) => {
  parentPort?.postMessage({ type: 'error', code: 'internal', message: e instanceof Error ? e.message : String(e) } satisfies FromWorker);
});
