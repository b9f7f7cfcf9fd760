/**
 * Worker-thread entry: runs one fine-tuning job off the event loop that serves the cameras.
 * workerData = FinetuneJob; posts FromWorker messages; listens for { type: 'cancel' }.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { CodedError } from '../../contracts/errors';
import { joinHead } from '../../inference/heads/head-shape';
import { FinetuneError } from './finetune.errors';
import { FinetuneJobSchema, FromWorker, ToWorker } from './finetune.messages';
import { openTrainingSessions, trainingFactory, type TrainingSessions } from './finetune.sessions';
import { FinetuneTrainer } from './finetune.trainer';
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
    post(FinetuneError.badJob(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')).toMessage());
    return;
  }
  const job = parsed.data;
  // the same factory as the server's sessions: an EXECUTION_PROVIDER that cannot start fails here the way it fails there
  let sessions: TrainingSessions;
  try {
    sessions = await openTrainingSessions(trainingFactory(job.session), job.paths);
  } catch (e) {
    post((e instanceof CodedError ? new FinetuneError(e.code, e.message, null, { cause: e }) : FinetuneError.internal(e)).toMessage());
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
    post((e instanceof FinetuneError ? e : FinetuneError.internal(e)).toMessage());
  } finally {
    await sessions.release();
    port.close(); // lets the worker exit (the cancel listener would keep it alive)
  }
}

main().catch((e) => {
  parentPort?.postMessage(FinetuneError.internal(e).toMessage() satisfies FromWorker);
});
