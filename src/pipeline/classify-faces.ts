import { concatMap, OperatorFunction } from 'rxjs';
import { LABEL_NAMES } from '../contracts/labels';
import { FEATURES } from '../inference/heads/head-shape';
import type { HeadResolver, HeadRunner } from '../inference/head.resolver';
import { FeatureExtractor } from '../inference/inference.types';
import { softmaxInPlace } from '../inference/labels';
import type { PipelineMetrics } from './pipeline.metrics';
import { FaceWork, FrameWork, StageError } from './pipeline.types';

export interface ClassifyFacesOptions {
  trunk: FeatureExtractor;
  generalHead: HeadRunner;
  heads: HeadResolver;
  metrics: PipelineMetrics;
  /** Told when a per-user head failed and its faces fell back to the general head. */
  onHeadError?: (userId: string | null, err: unknown) => void;
}

/**
 * All faces of all frames of the batch -> ONE trunk call -> one call per distinct head (the general head for
 * everyone without a personal one) -> softmax. A failing personal head is counted and its faces fall back to the
 * general head, so one user's broken model never costs the others their events.
 */
export function classifyFaces(options: ClassifyFacesOptions): OperatorFunction<FrameWork[], FrameWork[]> {
  const { trunk, generalHead, heads, metrics } = options;
  const nClasses = LABEL_NAMES.length;
  return concatMap(async (batch) => {
    const faces: { fw: FrameWork; face: FaceWork }[] = [];
    for (const fw of batch) for (const face of fw.faces) if (face.crop48) faces.push({ fw, face });
    if (faces.length === 0) return batch;

    let t0 = performance.now();
    // faces whose features the detector already computed (analyze() in the pool's workers) skip the trunk
    const missing = faces.flatMap((f, i) => (f.face.features?.length === FEATURES ? [] : [i]));
    let computed: Float32Array | null = null;
    if (missing.length > 0) {
      try {
        computed = await trunk.features(missing.map((i) => faces[i].face.crop48!));
      } catch (err) {
        throw new StageError('trunk', err);
      }
      metrics.inference('trunk', performance.now() - t0);
    }
    let features: Float32Array;
    if (computed && missing.length === faces.length) features = computed;
    else {
      features = new Float32Array(faces.length * FEATURES);
      faces.forEach((f, i) => f.face.features?.length === FEATURES && features.set(f.face.features, i * FEATURES));
      missing.forEach((i, k) => features.set(computed!.subarray(k * FEATURES, (k + 1) * FEATURES), i * FEATURES));
    }

    const groups = new Map<HeadRunner, number[]>();
    faces.forEach(({ fw, face }, i) => {
      const r = heads.resolve(fw.frame.cameraId, face.trackId, face.recognition);
      face.userId = r.userId;
      face.personalized = r.head !== null;
      face.resolved = r.identity ?? null;
      const head = r.head ?? generalHead;
      const group = groups.get(head);
      if (group) group.push(i);
      else groups.set(head, [i]);
    });

    const runHead = async (head: HeadRunner, idx: number[]): Promise<void> => {
      const rows = new Float32Array(idx.length * FEATURES);
      idx.forEach((i, k) => rows.set(features.subarray(i * FEATURES, (i + 1) * FEATURES), k * FEATURES));
      const logits = softmaxInPlace(Float32Array.from((await head.run(rows, idx.length)).subarray(0, idx.length * nClasses)), idx.length);
      idx.forEach((i, k) => (faces[i].face.probs = logits.slice(k * nClasses, (k + 1) * nClasses)));
    };

    t0 = performance.now();
    const fallback: number[] = [];
    for (const [head, idx] of groups) {
      try {
        await runHead(head, idx);
      } catch (err) {
        if (head === generalHead) throw new StageError('head', err);
        metrics.error('personal_head');
        options.onHeadError?.(faces[idx[0]].face.userId, err);
        for (const i of idx) faces[i].face.personalized = false;
        fallback.push(...idx);
      }
    }
    if (fallback.length > 0) {
      try {
        await runHead(generalHead, fallback);
      } catch (err) {
        throw new StageError('head', err);
      }
    }
    metrics.inference('head', performance.now() - t0);
    metrics.facesClassified(faces.length);
    return batch;
  });
}
