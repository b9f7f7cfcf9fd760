/**
 * The ONNX face embedder against its origin: the same aligned 150×150 crops through models/face-embedding (ONNX
 * Runtime, via the session factory) and through face-api's own tfjs FaceRecognitionNet (pure-JS cpu backend, in a
 * child process: test/integration/identity-faceapi-reference.mjs) must give the same descriptors. Plus: the converter is
 * deterministic, and the embedder's batching / normalisation / flip are what they say.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALIGNED_SIZE, alignFace, largestFace } from '../../src/inference/embedding/face-align';
import { EMBEDDING_DIM, EmbeddingInputError, FaceEmbedder, faceEmbeddingPath } from '../../src/inference/embedding/face-embedder';
import { ModelSession, OrtSessionFactory, TensorData } from '../../src/inference/ort.sessions';
import { YunetDetector } from '../../src/inference/yunet.detector';
import { MODELS, ROOT, TAIWANESE } from '../support/paths';

const PLANE = ALIGNED_SIZE * ALIGNED_SIZE * 3;

const cosineDistance = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return 1 - dot / Math.sqrt(na * nb);
};

/** A smooth synthetic "face-like" image: gradients + blobs, deterministic. */
function syntheticCrop(seed: number): Uint8Array {
  const out = new Uint8Array(PLANE);
  for (let y = 0; y < ALIGNED_SIZE; y++) {
    for (let x = 0; x < ALIGNED_SIZE; x++) {
      const blob = 120 * Math.exp(-((x - 50 - seed * 7) ** 2 + (y - 55) ** 2) / 200) + 120 * Math.exp(-((x - 100) ** 2 + (y - 55 + seed) ** 2) / 200);
      const o = (y * ALIGNED_SIZE + x) * 3;
      out[o] = Math.min(255, 60 + x + blob);
      out[o + 1] = Math.min(255, 40 + y + blob / 2);
      out[o + 2] = Math.min(255, 30 + ((x * y + seed * 31) % 97) + blob / 3);
    }
  }
  return out;
}

/** face-api's raw descriptors for `crops`, computed by the original tfjs model in a child process. */
function referenceDescriptors(crops: Uint8Array[]): number[][] {
  const dir = mkdtempSync(join(tmpdir(), 'faceapi-ref-'));
  try {
    const floats = new Float32Array(crops.length * PLANE);
    crops.forEach((c, i) => floats.set(c, i * PLANE));
    const file = join(dir, 'crops.f32');
    writeFileSync(file, Buffer.from(floats.buffer));
    const out = execFileSync(process.execPath, [join(__dirname, 'identity-faceapi-reference.mjs'), file, String(crops.length)], {
      maxBuffer: 16 << 20,
    });
    return JSON.parse(out.toString()) as number[][];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The first test photo of the first `n` Taiwanese subjects, detected and aligned (null when the set is absent). */
async function realCrops(factory: OrtSessionFactory, n: number): Promise<Uint8Array[] | null> {
  if (!existsSync(TAIWANESE)) {
    console.warn(`skipping the real-face parity check: ${TAIWANESE} is absent (datasets live in ../shared/datasets)`);
    return null;
  }
  const detector = new YunetDetector(await factory.create(join(MODELS, 'face-detection', 'yunet_s_dynamic.onnx')), {
    size: 320,
    scoreThreshold: 0.6,
    nmsIou: 0.3,
    minFacePixels: 24,
  });
  try {
    const crops: Uint8Array[] = [];
    for (const subject of readdirSync(TAIWANESE).sort()) {
      if (crops.length === n) break;
      const testDir = join(TAIWANESE, subject, 'test');
      if (!existsSync(testDir)) continue;
      const label = readdirSync(testDir).sort()[0];
      const file = join(testDir, label, readdirSync(join(testDir, label)).sort()[0]);
      const { data, info } = await sharp(file).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const rgb = new Uint8Array(data);
      const bgr = new Uint8Array(rgb.length);
      for (let i = 0; i < rgb.length; i += 3) [bgr[i], bgr[i + 1], bgr[i + 2]] = [rgb[i + 2], rgb[i + 1], rgb[i]];
      const [found] = await detector.detect([{ data: bgr, width: info.width, height: info.height }]);
      const face = largestFace(found);
      if (face) crops.push(alignFace({ data: rgb, width: info.width, height: info.height }, 'rgb', face.landmarks).crop);
    }
    return crops;
  } finally {
    await detector.release();
  }
}

describe('face embedding: ONNX conversion vs the tfjs original', () => {
  const factory = new OrtSessionFactory({ EXECUTION_PROVIDER: 'cpu', ORT_THREADS: 1, quiet: true });
  let session: ModelSession;

  beforeAll(async () => {
    session = await factory.create(faceEmbeddingPath(MODELS));
  });
  afterAll(async () => {
    await session?.release();
  });

  it('matches face-api on synthetic and real aligned crops (cosine distance < 1e-6)', async () => {
    const crops = [syntheticCrop(1), syntheticCrop(2)];
    const real = await realCrops(factory, 3);
    if (real) {
      expect(real.length).toBe(3);
      crops.push(...real);
    }
    const input = new Float32Array(crops.length * PLANE);
    crops.forEach((c, i) => input.set(c, i * PLANE));
    const out = await session.run({ input: { data: input, dims: [crops.length, ALIGNED_SIZE, ALIGNED_SIZE, 3] } });
    const reference = referenceDescriptors(crops);
    expect(reference.length).toBe(crops.length);
    const embedder = new FaceEmbedder(session, { flip: false }); // the raw model, comparable with face-api
    const embeddings = await embedder.embed(crops);
    crops.forEach((_, i) => {
      const onnx = out.descriptor.data.subarray(i * EMBEDDING_DIM, (i + 1) * EMBEDDING_DIM);
      // measured: ~2e-13 cosine distance, < 1e-6 largest absolute difference (float32 rounding only)
      expect(cosineDistance(onnx, reference[i])).toBeLessThan(1e-6);
      const worst = Math.max(...reference[i].map((v, j) => Math.abs(v - onnx[j])));
      expect(worst).toBeLessThan(1e-4);
      // the embedder's output is the same direction, unit length
      expect(cosineDistance(embeddings[i], reference[i])).toBeLessThan(1e-6);
      expect(Math.hypot(...embeddings[i])).toBeCloseTo(1, 5);
    });
    // different inputs give clearly different descriptors (the comparison above is not vacuous)
    expect(cosineDistance(reference[0], reference[1])).toBeGreaterThan(1e-3);
  }, 180_000);
});

/** Debian's python3 with python3-onnx + numpy (the converter's needs); missing: a skip, or a failure on CI. */
function requireOnnxPython(): string | null {
  for (const py of [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[]) {
    if (spawnSync(py, ['-c', 'import onnx, numpy'], { stdio: 'ignore' }).status === 0) return py;
  }
  const message = 'python3 with onnx is not installed: `apt-get install -y python3-onnx python3-numpy`';
  if (process.env.CI === 'true') throw new Error(`${message} (required when CI=true)`);
  console.warn(`skipping: ${message}`);
  return null;
}

const python = requireOnnxPython();

describe.skipIf(!python)('scripts/convert_face_embedder.py', () => {
  it('is deterministic and reproduces the shipped file and its manifest sha256', () => {
    const dir = mkdtempSync(join(tmpdir(), 'face-embedder-'));
    try {
      const hashes = [1, 2].map((i) => {
        const out = join(dir, `run${i}.onnx`);
        const r = spawnSync(python!, [join(ROOT, 'scripts', 'convert_face_embedder.py'), '--out', out, '--manifest', ''], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        return createHash('sha256').update(readFileSync(out)).digest('hex');
      });
      expect(hashes[1]).toBe(hashes[0]);
      const manifest = JSON.parse(readFileSync(join(MODELS, 'manifest.json'), 'utf8'));
      expect(manifest.faceEmbedding.files['face-embedding.onnx'].sha256).toBe(hashes[0]);
      expect(createHash('sha256').update(readFileSync(faceEmbeddingPath(MODELS))).digest('hex')).toBe(hashes[0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('FaceEmbedder (fake session)', () => {
  /** Echoes, per crop, the mean of its first 128 floats per channel-slot: enough to see order, batching and flips. */
  function fakeSession(calls: number[]): ModelSession {
    return {
      inputNames: ['input'],
      outputNames: ['descriptor', 'embedding'],
      async run(feeds: Record<string, TensorData>) {
        const { data, dims } = feeds.input;
        calls.push(dims[0]);
        const out = new Float32Array(dims[0] * EMBEDDING_DIM);
        for (let n = 0; n < dims[0]; n++) {
          // embedding j = the pixel value at row 0, column j (R channel): a flip reverses it
          for (let j = 0; j < EMBEDDING_DIM; j++) out[n * EMBEDDING_DIM + j] = data[n * PLANE + j * 3];
        }
        return { embedding: { data: out, dims: [dims[0], EMBEDDING_DIM] } };
      },
      async release() {},
    };
  }
  const rampCrop = (offset: number) => {
    const c = new Uint8Array(PLANE);
    for (let x = 0; x < ALIGNED_SIZE; x++) c[x * 3] = x < EMBEDDING_DIM ? offset + x : 0;
    return c;
  };

  it('splits large inputs into batches, keeps order, and L2-normalises', async () => {
    const calls: number[] = [];
    const embedder = new FaceEmbedder(fakeSession(calls), { maxBatch: 2, flip: false });
    const crops = [rampCrop(1), rampCrop(50), rampCrop(100)];
    const out = await embedder.embed(crops);
    expect(calls).toEqual([2, 1]);
    out.forEach((v, i) => {
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
      const raw = Array.from({ length: EMBEDDING_DIM }, (_, j) => crops[i][j * 3]);
      expect(cosineDistance(v, raw)).toBeLessThan(1e-6);
    });
  });

  it('with flip, averages the crop and its mirror image', async () => {
    const calls: number[] = [];
    const embedder = new FaceEmbedder(fakeSession(calls), { flip: true });
    const crop = rampCrop(1);
    const [v] = await embedder.embed([crop]);
    expect(calls).toEqual([2]);
    // mirror: column x ← column 149 − x, so the fake reads columns 149..22, where only 22..127 are non-zero
    const expected = Array.from({ length: EMBEDDING_DIM }, (_, j) => crop[j * 3] + crop[(ALIGNED_SIZE - 1 - j) * 3]);
    expect(cosineDistance(v, expected)).toBeLessThan(1e-6);
  });

  it('embedFaces averages each face\'s views into one unit vector', async () => {
    const calls: number[] = [];
    const embedder = new FaceEmbedder(fakeSession(calls), { flip: false });
    const a = rampCrop(1);
    const b = rampCrop(100);
    const [one, two] = await embedder.embedFaces([[a, b], [b]]);
    expect(calls).toEqual([3]);
    const unit = (c: Uint8Array) => {
      const v = Array.from({ length: EMBEDDING_DIM }, (_, j) => c[j * 3]);
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    };
    const ua = unit(a);
    const ub = unit(b);
    expect(cosineDistance(one, ua.map((x, j) => x + ub[j]))).toBeLessThan(1e-6);
    expect(cosineDistance(two, ub)).toBeLessThan(1e-6);
    expect(Math.hypot(...one)).toBeCloseTo(1, 5);
    await expect(embedder.embedFaces([[]])).rejects.toThrow(EmbeddingInputError);
  });

  it('rejects crops of the wrong size and a model without the expected names', async () => {
    const embedder = new FaceEmbedder(fakeSession([]));
    await expect(embedder.embed([new Uint8Array(10)])).rejects.toThrow(EmbeddingInputError);
    expect(() => new FaceEmbedder({ ...fakeSession([]), outputNames: ['logits'] })).toThrow(EmbeddingInputError);
  });
});
