/**
 * Which square crop around a YuNet box gives the general model the best accuracy? Runs the pipeline's own detector,
 * cropFace (preprocess.ts rules) and models/general/expression.onnx over whole photos of JAFFE and the Taiwanese set
 * (both splits: the model never saw them), one face per image (the highest score), for a few crop rules.
 *
 *   npx tsx scripts/crop-variants.ts [--root ../shared/datasets] [--limit N]
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { LABEL_NAMES } from '../src/contracts/labels';
import { warpToCrop } from '../src/inference/embedding/face-align';
import { cropFace, cropRegion, CropRule, DEFAULT_CROP } from '../src/inference/face-crop';
import { OrtSessionFactory } from '../src/inference/ort.sessions';
import { areaResize, INPUT_SIZE, toGray, writeInput } from '../src/inference/preprocess';
import { BgrImage, YunetDetector } from '../src/inference/yunet.detector';
import { cliArgs } from './cli';

const args = cliArgs(
  'npm run crop:variants -- [--root <datasets folder>] [--limit N]',
  { root: { type: 'string', default: resolve(__dirname, '../../shared/datasets') }, limit: { type: 'string' } },
);

export const VARIANTS: Record<string, CropRule> = {
  'max x1.0': { basis: 'max', scale: 1.0, shiftY: 0 },
  'max x1.15': { basis: 'max', scale: 1.15, shiftY: 0 },
  'max x0.9 down 0.05': { basis: 'max', scale: 0.9, shiftY: 0.05 },
  'mean x1.0': { basis: 'mean', scale: 1.0, shiftY: 0 },
  'mean x0.9 down 0.05': { basis: 'mean', scale: 0.9, shiftY: 0.05 },
  'width x0.9': { basis: 'width', scale: 0.9, shiftY: 0 },
  'width x1.0': { basis: 'width', scale: 1.0, shiftY: 0 },
  'width x1.0 down 0.05': { basis: 'width', scale: 1.0, shiftY: 0.05 },
  'width x1.1': { basis: 'width', scale: 1.1, shiftY: 0 },
  'width x1.2': { basis: 'width', scale: 1.2, shiftY: 0 },
};

/** Side of the intermediate warp: 4x the classifier input, area-resized to 48 like cropFace's crops. */
const WARP_SIDE = INPUT_SIZE * 4;

/**
 * DEFAULT_CROP's square, rotated about its centre so that the eyes (YuNet landmarks 0 and 1) are level when `level`,
 * through a bilinear warp; `level: false` is the same warp without rotation, the control that separates what the
 * rotation does from what the resampling does. (A measurement for issue 17's "aligned faces": the live path does not
 * rotate faces.)
 */
function warpedCrop(image: BgrImage, box: { x: number; y: number; w: number; h: number }, landmarks: number[], level: boolean): Uint8Array {
  const r = cropRegion(box, image.width, image.height, DEFAULT_CROP);
  const angle = level ? Math.atan2(landmarks[3] - landmarks[1], landmarks[2] - landmarks[0]) : 0;
  const k = WARP_SIDE / r.w;
  const a = k * Math.cos(-angle);
  const b = k * Math.sin(-angle);
  const cx = r.x + r.w / 2;
  const cy = r.y + r.h / 2;
  const rgb = warpToCrop(image, 'bgr', { a, b, tx: WARP_SIDE / 2 - (a * cx - b * cy), ty: WARP_SIDE / 2 - (b * cx + a * cy) }, WARP_SIDE);
  return areaResize(toGray(rgb, WARP_SIDE, WARP_SIDE, 'rgb'), WARP_SIDE, WARP_SIDE, INPUT_SIZE, INPUT_SIZE);
}
const WARPED = { 'default, warped (control)': false, 'default, eyes level': true };

/** A 48x48 face mirrored left-right (the `--tta` of scripts/evaluate.ts: the image and its mirror averaged). */
function mirror(face: Uint8Array): Uint8Array {
  const out = new Uint8Array(face.length);
  for (let y = 0; y < INPUT_SIZE; y++) for (let x = 0; x < INPUT_SIZE; x++) out[y * INPUT_SIZE + x] = face[y * INPUT_SIZE + INPUT_SIZE - 1 - x];
  return out;
}
const softmax = (row: Float32Array): number[] => {
  const m = Math.max(...row);
  const e = [...row].map((v) => Math.exp(v - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
};
/** The default crop scored as the image and its mirror, probabilities averaged: what flip averaging live would give. */
const FLIP = 'default + mirror (flip average)';

function images(root: string): { path: string; label: number }[] {
  const out: { path: string; label: number }[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(jpe?g|png|tiff?)$/i.test(name)) {
        const label = LABEL_NAMES.indexOf(p.split('/').at(-2) as (typeof LABEL_NAMES)[number]);
        if (label >= 0) out.push({ path: p, label });
      }
    }
  };
  walk(root);
  return out;
}

async function main(): Promise<void> {
  const models = resolve(__dirname, '../models');
  const factory = new OrtSessionFactory({ EXECUTION_PROVIDER: 'cpu', ORT_THREADS: 1 });
  const detector = new YunetDetector(await factory.create(join(models, 'face-detection/yunet_s_dynamic.onnx')), {
    size: 320, scoreThreshold: 0.6, nmsIou: 0.3, minFacePixels: 24,
  });
  const cnn = await factory.create(join(models, 'general/expression.onnx'));
  const names = [...Object.keys(VARIANTS), ...Object.keys(WARPED), FLIP];
  const defaultName = Object.keys(VARIANTS).find((n) => VARIANTS[n].basis === DEFAULT_CROP.basis && VARIANTS[n].scale === DEFAULT_CROP.scale && VARIANTS[n].shiftY === DEFAULT_CROP.shiftY)!;
  for (const set of ['jaffe', 'taiwanese']) {
    let list = images(join(args.root!, set));
    if (args.limit) list = list.filter((_, i) => i % Math.ceil(list.length / Number(args.limit)) === 0);
    const correct = new Array<number>(names.length).fill(0);
    let found = 0;
    for (const { path, label } of list) {
      const { data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      const bgr = Buffer.alloc(info.width * info.height * 3);
      for (let i = 0, p = 0; i < info.width * info.height; i++, p += info.channels) {
        bgr[i * 3] = data[p + (info.channels >= 3 ? 2 : 0)];
        bgr[i * 3 + 1] = data[p + (info.channels >= 3 ? 1 : 0)];
        bgr[i * 3 + 2] = data[p];
      }
      const image = { data: bgr, width: info.width, height: info.height };
      const [faces] = await detector.detect([image]);
      if (faces.length === 0) continue;
      found++;
      const { box, landmarks } = faces.reduce((a, b) => (b.score > a.score ? b : a));
      const input = new Float32Array(names.length * INPUT_SIZE * INPUT_SIZE);
      const plain = cropFace(image, box, DEFAULT_CROP).crop48;
      names.forEach((n, i) =>
        writeInput(
          n === FLIP ? mirror(plain) : n in VARIANTS ? cropFace(image, box, VARIANTS[n]).crop48 : warpedCrop(image, box, landmarks, WARPED[n as keyof typeof WARPED]),
          input,
          i,
        ),
      );
      const { logits } = await cnn.run({ input: { data: input, dims: [names.length, 1, INPUT_SIZE, INPUT_SIZE] } });
      const probs = names.map((_, i) => softmax(logits.data.subarray(i * 7, i * 7 + 7)));
      // the mirror row alone is the mirrored face; the variant scored is its average with the default crop's row
      const flipRow = names.indexOf(FLIP);
      probs[flipRow] = probs[flipRow].map((p, k) => (p + probs[names.indexOf(defaultName)][k]) / 2);
      probs.forEach((row, i) => {
        if (row.indexOf(Math.max(...row)) === label) correct[i]++;
      });
    }
    console.log(`${set}: ${list.length} images, face found in ${found}`);
    names.forEach((n, i) => console.log(`  ${n.padEnd(20)} accuracy ${((100 * correct[i]) / found).toFixed(1)}%  (${correct[i]}/${found})`));
  }
}

void main();
