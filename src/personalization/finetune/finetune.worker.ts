/**
 * Worker-thread entry: runs one fine-tuning job off the event loop that serves the cameras.
 * workerData = FinetuneJob; posts FromWorker messages; listens for { type: 'cancel' }.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { HeadForward } from '../onnx/head-forward';
import { FinetuneError, FinetuneTrainer } from './finetune.trainer';
import { FinetuneJobSchema, FromWorker, ToWorker } from './finetune.messages';
import { loadGeneralHead, loadReplay } from './general-assets';
import { HeadTrainStep } from './head-train-step';
import { joinHead } from './head-weights';
import { OrtTrunk } from './trunk-features';

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
  const threads = job.threads ?? 0;
  const [trunk, step, forward] = await Promise.all([
    OrtTrunk.create(job.paths.trunk, { threads }),
    HeadTrainStep.create(job.paths.trainStep, { threads }),
    HeadForward.create(job.paths.headForward, { threads }),
  ]);
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
    await Promise.all([trunk.release(), step.release(), forward.release()]);
    port.close(); // lets the worker exit (the cancel listener would keep it alive)
  }
}

main().catch((e) => {
  parentPort?.postMessage({ type: 'error', code: 'internal', message: e instanceof Error ? e.message : String(e) } satisfies FromWorker);
});
