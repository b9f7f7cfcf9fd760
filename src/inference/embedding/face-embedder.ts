import { join } from 'node:path';
import type { ModelSession, OrtSessionFactory } from '../ort.sessions';
import { ALIGNED_SIZE } from './face-align';

/** Length of one face embedding (the dlib descriptor). */
export const EMBEDDING_DIM = 128;

/** Where the converted dlib descriptor lives inside MODELS_DIR (scripts/convert_face_embedder.py). */
export const faceEmbeddingPath = (modelsDir: string): string => join(modelsDir, 'face-embedding', 'face-embedding.onnx');

export interface FaceEmbedderOptions {
  /** Also embed the mirrored crop and average the two (test-time flip): ~2× the cost, on by default because the
   * matcher's calibration assumes it (it raised Taiwanese top-1 at 1% false accepts from 94% to 97.5%, docs/IDENTITY.md). */
  flip?: boolean;
  /** Largest batch per session.run; larger inputs are split. */
  maxBatch?: number;
}

export class EmbeddingInputError extends Error {}

/**
 * Aligned 150×150 RGB crops (packed uint8, from face-align.ts) → L2-normalised 128-d embeddings, in batches.
 * The model's input contract (models/manifest.json `faceEmbedding`): float32 [N,150,150,3] RGB 0..255; the graph
 * does face-api's mean subtraction and scaling itself. Cosine similarity of two embeddings = their dot product, and
 * their Euclidean distance = √(2 − 2·cos).
 */
export class FaceEmbedder {
  private readonly flip: boolean;
  private readonly maxBatch: number;

  constructor(
    private readonly session: ModelSession,
    options: FaceEmbedderOptions = {},
  ) {
    this.flip = options.flip ?? true;
    this.maxBatch = Math.max(1, options.maxBatch ?? 32);
    if (!session.inputNames.includes('input') || !session.outputNames.includes('embedding')) {
      throw new EmbeddingInputError(
        `face-embedding model must have input "input" and output "embedding" (has ${session.inputNames.join(',')} → ${session.outputNames.join(',')})`,
      );
    }
  }

  /** The only way this class gets a session: through the shared factory (execution provider, threads, no spinning). */
  static async create(factory: OrtSessionFactory, modelPath: string, options?: FaceEmbedderOptions): Promise<FaceEmbedder> {
    const session = await factory.create(modelPath);
    try {
      return new FaceEmbedder(session, options);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  async embed(crops: readonly Uint8Array[]): Promise<Float32Array[]> {
    const plane = ALIGNED_SIZE * ALIGNED_SIZE * 3;
    crops.forEach((c, i) => {
      if (c.length !== plane) throw new EmbeddingInputError(`crop ${i} has ${c.length} bytes, expected ${ALIGNED_SIZE}x${ALIGNED_SIZE}x3 = ${plane}`);
    });
    const result: Float32Array[] = [];
    for (let start = 0; start < crops.length; start += this.maxBatch) {
      result.push(...(await this.embedBatch(crops.slice(start, start + this.maxBatch))));
    }
    return result;
  }

  /**
   * One embedding per face from several views of it (alignFaceViews: the template crop and zoomed copies): the
   * L2-normalised mean of the views' embeddings (each already flip-averaged when `flip` is on).
   */
  async embedFaces(faces: readonly (readonly Uint8Array[])[]): Promise<Float32Array[]> {
    faces.forEach((views, i) => {
      if (views.length === 0) throw new EmbeddingInputError(`face ${i} has no views`);
    });
    const flat = await this.embed(faces.flat());
    let at = 0;
    return faces.map((views) => {
      const v = new Float32Array(EMBEDDING_DIM);
      for (let k = 0; k < views.length; k++, at++) for (let j = 0; j < EMBEDDING_DIM; j++) v[j] += flat[at][j];
      return l2normalize(v);
    });
  }

  private async embedBatch(crops: readonly Uint8Array[]): Promise<Float32Array[]> {
    const plane = ALIGNED_SIZE * ALIGNED_SIZE * 3;
    const copies = this.flip ? 2 : 1;
    const n = crops.length * copies;
    const input = new Float32Array(n * plane);
    crops.forEach((c, i) => {
      input.set(c, i * copies * plane);
      if (this.flip) mirrorInto(c, input, (i * copies + 1) * plane);
    });
    const out = await this.session.run({ input: { data: input, dims: [n, ALIGNED_SIZE, ALIGNED_SIZE, 3] } });
    const e = out.embedding;
    if (!e || e.data.length !== n * EMBEDDING_DIM) throw new Error(`face-embedding model returned ${e?.data.length ?? 0} values for ${n} crops`);
    return crops.map((_, i) => {
      const v = new Float32Array(EMBEDDING_DIM);
      for (let k = 0; k < copies; k++) {
        const base = (i * copies + k) * EMBEDDING_DIM;
        for (let j = 0; j < EMBEDDING_DIM; j++) v[j] += e.data[base + j];
      }
      return l2normalize(v);
    });
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** Horizontally mirrored copy of a packed RGB crop, written as floats into `out` at `offset`. */
function mirrorInto(crop: Uint8Array, out: Float32Array, offset: number): void {
  const s = ALIGNED_SIZE;
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      const from = (y * s + (s - 1 - x)) * 3;
      const to = offset + (y * s + x) * 3;
      out[to] = crop[from];
      out[to + 1] = crop[from + 1];
      out[to + 2] = crop[from + 2];
    }
  }
}

/** In place; a zero vector stays zero. */
export function l2normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] /= norm;
  return v;
}
