/**
 * Worker-thread entry of the inference pool: owns the sessions its InferenceWorkerInit names (a pool worker: one YuNet
 * and one trunk session; live recognition's embedding worker: the face-embedding session) and runs them off the
 * event loop (onnxruntime-node's session.run is synchronous on the calling thread). Letterboxing, YuNet decoding and
 * the identity faces' quality gate and alignment happen here too, so the main thread only packs frames and reads
 * results back. workerData = InferenceWorkerInit; answers every request with exactly one message carrying its id.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { EMBEDDING_DIM, FaceEmbedder } from '../embedding/face-embedder';
import { ALIGNED_SIZE } from '../embedding/face-align';
import { prepareFaces } from '../embedding/identify-faces';
import { ExpressionTrunk } from '../expression.classifier';
import { cropFace } from '../face-crop';
import { OrtSessionFactory } from '../ort.sessions';
import { INPUT_SIZE } from '../preprocess';
import { YunetDetector } from '../yunet.detector';
import type { FromInferenceWorker, InferenceWorkerInit, ToInferenceWorker } from './inference.messages';

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('inference.worker must run in a worker thread');
  const post = (m: FromInferenceWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
  const init = workerData as InferenceWorkerInit;
  // every session creation settles before the worker reports or exits: a create still running when the thread goes
  // away would call back into a dead environment and abort the whole process
  const factory = new OrtSessionFactory({ ...init.session, quiet: true });
  const [d, t, em] = await Promise.allSettled([
    init.detectorPath ? factory.create(init.detectorPath) : Promise.resolve(null),
    init.trunkPath ? factory.create(init.trunkPath) : Promise.resolve(null),
    init.embedderPath ? FaceEmbedder.create(factory, init.embedderPath) : Promise.resolve(null),
  ]);
  if (d.status === 'rejected' || t.status === 'rejected' || em.status === 'rejected') {
    await Promise.allSettled([d, t, em].map((r) => (r.status === 'fulfilled' ? r.value?.release() : undefined)));
    const reason: unknown = [d, t, em].find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason;
    const e = reason instanceof Error ? reason : new Error(String(reason));
    post({ type: 'fatal', name: e.constructor.name, message: e.message });
    port.close();
    return;
  }
  const detector = d.value ? new YunetDetector(d.value, init.detector!) : null; // detectorPath comes with its options (InferenceWorkerInit)
  const trunk = t.value ? new ExpressionTrunk(t.value) : null;
  /** Live recognition's embedder (the embedding worker), null otherwise. */
  const embedder = em.value;
  const need = <T>(model: T | null, what: string): T => {
    if (!model) throw new Error(`this inference worker was started without the ${what} model`);
    return model;
  };
  // requests are served one at a time, in arrival order: a session is never run concurrently with itself
  let queue = Promise.resolve();
  port.on('message', (m: ToInferenceWorker) => {
    queue = queue.then(async () => {
      try {
        if (m.type === 'close') {
          await Promise.allSettled([detector?.release(), trunk?.release(), embedder?.release()]);
          port.close();
          process.exit(0);
        } else if (m.type === 'detect') {
          const images = m.frames.map((f) => ({ data: new Uint8Array(m.buffer, f.offset, f.length), width: f.width, height: f.height }));
          post({ type: 'detections', id: m.id, detections: await need(detector, 'face-detection').detect(images) });
        } else if (m.type === 'analyze') {
          const images = m.frames.map((f) => ({ data: new Uint8Array(m.buffer, f.offset, f.length), width: f.width, height: f.height }));
          const detections = await need(detector, 'face-detection').detect(images);
          const faces = detections.map((list, i) =>
            list.map((detection) => ({ detection, ...cropFace(images[i], detection.box, m.request.crop, m.request.largeSide, detection.landmarks) })),
          );
          const crops = faces.flat().map((f) => f.crop48);
          const features = m.request.features && crops.length > 0 ? compact(await need(trunk, 'expression trunk').features(crops)) : new Float32Array(0);
          if (m.request.identity) {
            // quality gate + alignment only: the views go back, the embedding worker embeds them (the batch never waits for the ResNet)
            const { identity, enrolment } = prepareFaces(images, detections, m.request.identity);
            faces.forEach((list, i) =>
              list.forEach((f, k) => {
                if (identity[i][k]) Object.assign(f, { identity: identity[i][k] });
                if (enrolment[i][k]) Object.assign(f, { enrolment: enrolment[i][k] });
              }),
            );
          }
          post({ type: 'analysis', id: m.id, faces, features }, [features.buffer as ArrayBuffer]);
        } else if (m.type === 'features') {
          const size = INPUT_SIZE * INPUT_SIZE;
          const faces = Array.from({ length: m.count }, (_, i) => new Uint8Array(m.buffer, i * size, size));
          const features = compact(await need(trunk, 'expression trunk').features(faces));
          post({ type: 'features', id: m.id, features }, [features.buffer as ArrayBuffer]);
        } else if (m.type === 'embed') {
          const plane = ALIGNED_SIZE * ALIGNED_SIZE * 3;
          let at = 0;
          const faces = m.views.map((n) => Array.from({ length: n }, () => new Uint8Array(m.buffer, plane * at++, plane)));
          const out = await need(embedder, 'face-embedding').embedFaces(faces);
          const embeddings = new Float32Array(out.length * EMBEDDING_DIM);
          out.forEach((e, i) => embeddings.set(e, i * EMBEDDING_DIM));
          post({ type: 'embeddings', id: m.id, embeddings }, [embeddings.buffer]);
        }
      } catch (err) {
        if (m.type !== 'close') post({ type: 'error', id: m.id, message: err instanceof Error ? err.message : String(err) });
      }
    });
  });
  post({ type: 'ready' });
}

/** ORT's output may be a view of a larger buffer: a copy that owns its whole buffer, so it can be transferred. */
function compact(a: Float32Array): Float32Array {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
}

void main();
