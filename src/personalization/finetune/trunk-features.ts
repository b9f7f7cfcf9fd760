import * as ort from 'onnxruntime-node';
import { INPUT_SIZE, writeInput } from '../../inference/preprocess';
import { FEATURES } from './head-weights';

/** 48x48 uint8 faces -> trunk features (n x 2048). An interface so the trainer can be tested without the trunk. */
export interface FeatureExtractor {
  extract(faces: Uint8Array[]): Promise<Float32Array>;
}

/** trunk.onnx (`input` [N,1,48,48] 0..1 -> `features` [N,2048]), in chunks to bound memory. */
export class OrtTrunk implements FeatureExtractor {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly chunk: number,
  ) {}

  static async create(path: string, options: { threads?: number; chunk?: number } = {}): Promise<OrtTrunk> {
    const session = await ort.InferenceSession.create(path, {
      intraOpNumThreads: options.threads ?? 0,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    return new OrtTrunk(session, options.chunk ?? 128);
  }

  async extract(faces: Uint8Array[]): Promise<Float32Array> {
    const out = new Float32Array(faces.length * FEATURES);
    const px = INPUT_SIZE * INPUT_SIZE;
    for (let s = 0; s < faces.length; s += this.chunk) {
      const n = Math.min(this.chunk, faces.length - s);
      const input = new Float32Array(n * px);
      for (let i = 0; i < n; i++) {
        if (faces[s + i].length !== px) throw new Error(`trunk: face ${s + i} is not ${INPUT_SIZE}x${INPUT_SIZE}`);
        writeInput(faces[s + i], input, i);
      }
      const r = await this.session.run({ input: new ort.Tensor('float32', input, [n, 1, INPUT_SIZE, INPUT_SIZE]) });
      out.set(r.features.data as Float32Array, s * FEATURES);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
