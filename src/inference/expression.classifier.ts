import { INPUT_SIZE, writeInput } from './preprocess';
import type { HeadRunner } from './head.resolver';
import type { ModelSession } from './ort.sessions';

export const FEATURES = 2048;
export const CLASSES = 7;

/** The frozen trunk: 48x48 gray faces (uint8) -> n x 2048 features, one session.run for the whole batch. */
export class ExpressionTrunk {
  constructor(private readonly session: ModelSession) {}

  async features(faces: readonly Uint8Array[]): Promise<Float32Array> {
    if (faces.length === 0) return new Float32Array(0);
    const input = new Float32Array(faces.length * INPUT_SIZE * INPUT_SIZE);
    faces.forEach((f, i) => writeInput(f, input, i));
    const out = await this.session.run({ input: { data: input, dims: [faces.length, 1, INPUT_SIZE, INPUT_SIZE] } });
    const features = out.features;
    if (!features || features.dims[1] !== FEATURES) throw new Error(`trunk returned ${features?.dims} (expected [n,${FEATURES}])`);
    return features.data;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** The general head (models/general/head.onnx): features -> logits. */
export class GeneralHead implements HeadRunner {
  constructor(private readonly session: ModelSession) {}

  async run(features: Float32Array, n: number): Promise<Float32Array> {
    if (n === 0) return new Float32Array(0);
    const out = await this.session.run({ features: { data: features.subarray(0, n * FEATURES), dims: [n, FEATURES] } });
    const logits = out.logits;
    if (!logits || logits.dims[1] !== CLASSES) throw new Error(`head returned ${logits?.dims} (expected [n,${CLASSES}])`);
    return logits.data;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
