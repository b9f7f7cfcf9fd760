import { CLASSES, FEATURES } from './heads/head-shape';
import type { HeadRunner } from './head.resolver';
import type { FeatureExtractor } from './inference.types';
import type { ModelSession } from './ort.sessions';
import { INPUT_SIZE, writeInput } from './preprocess';

export interface ExpressionTrunkOptions {
  /**
   * Most faces per session.run; larger inputs run in chunks (bounds the input/activation memory of a fine-tune's
   * hundreds of augmented faces, 128 there). Default: the whole batch in one run (the pipeline's batches are small).
   */
  chunk?: number;
}

/** The frozen trunk (models/general/trunk.onnx): 48x48 gray faces (uint8) -> n x 2048 features. */
export class ExpressionTrunk implements FeatureExtractor {
  private readonly chunk: number;

  constructor(
    private readonly session: ModelSession,
    options: ExpressionTrunkOptions = {},
  ) {
    this.chunk = Math.max(1, options.chunk ?? Infinity);
  }

  async features(faces: readonly Uint8Array[]): Promise<Float32Array> {
    if (faces.length === 0) return new Float32Array(0);
    if (faces.length <= this.chunk) return this.run(faces, 0);
    const out = new Float32Array(faces.length * FEATURES);
    for (let s = 0; s < faces.length; s += this.chunk) out.set(await this.run(faces.slice(s, s + this.chunk), s), s * FEATURES);
    return out;
  }

  /** One session.run; `first` = index of faces[0] in the caller's list (for errors). */
  private async run(faces: readonly Uint8Array[], first: number): Promise<Float32Array> {
    const px = INPUT_SIZE * INPUT_SIZE;
    const input = new Float32Array(faces.length * px);
    faces.forEach((f, i) => {
      if (f.length !== px) throw new Error(`trunk: face ${first + i} is not ${INPUT_SIZE}x${INPUT_SIZE}`);
      writeInput(f, input, i);
    });
    const out = await this.session.run({ input: { data: input, dims: [faces.length, 1, INPUT_SIZE, INPUT_SIZE] } });
    const features = out.features;
    if (!features || features.dims[1] !== FEATURES || features.data.length !== faces.length * FEATURES) {
      throw new Error(`trunk returned ${features?.dims} (expected [${faces.length},${FEATURES}])`);
    }
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
