/**
 * How much of a head tilt YuNet's eye landmarks read back (issue 17's levelled faces, docs/MODEL.md "`bnlevel`"):
 * faces are turned by known angles and the eye angle YuNet reports is compared with the unturned face's. A readback of
 * 1 means levelling undoes a tilt fully; below 1, the levelled face keeps part of it.
 *   - FER-2013 faces (48x48, shown to YuNet as scripts/align-fer.ts shows them): turned with level-eyes.ts's rotation.
 *   - whole photos of a per-subject set (as the live path sees a camera frame): turned about the face's centre.
 * --passes N: for the FER-2013 faces, also the readback after N passes of scripts/align-fer.ts --passes (each pass
 * reads the tilt left on the face turned by the sum so far), for a +20° turn.
 *
 *   npx tsx scripts/bench/level-eyes-readback.ts [--fer ../shared/datasets/fer2013/train] [--photos ../shared/datasets/jaffe]
 *     [--every 100] [--passes 1] [--json]
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { LABEL_NAMES } from '../../src/contracts/labels';
import { eyeAngle, rotatedSquare } from '../../src/inference/level-eyes';
import { OrtSessionFactory } from '../../src/inference/ort.sessions';
import { INPUT_SIZE } from '../../src/inference/preprocess';
import { BgrImage, YunetDetector } from '../../src/inference/yunet.detector';
import { cliArgs, numberArg } from '../cli';
import { FER_CANVAS, ferCanvas } from '../fer-canvas';

const args = cliArgs('npx tsx scripts/bench/level-eyes-readback.ts [--fer <48x48 faces>] [--photos <per-subject set>] [--every N] [--passes N] [--json]', {
  fer: { type: 'string', default: resolve(__dirname, '../../../shared/datasets/fer2013/train') },
  photos: { type: 'string', default: resolve(__dirname, '../../../shared/datasets/jaffe') },
  every: { type: 'string', default: '100' },
  passes: { type: 'string', default: '1' },
  json: { type: 'boolean', default: false },
});
const TURNS = [-20, -10, 10, 20];
const deg = (r: number) => (r * 180) / Math.PI;
const rad = (d: number) => (d * Math.PI) / 180;
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

/** Gray (one channel) -> packed BGR. */
const bgr = (gray: Uint8Array): Uint8Array => {
  const out = new Uint8Array(gray.length * 3);
  for (let i = 0; i < gray.length; i++) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = gray[i];
  return out;
};

function files(root: string, re: RegExp): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (re.test(n) && (LABEL_NAMES as readonly string[]).includes(p.split('/').at(-2)!)) out.push(p);
    }
  };
  walk(root);
  return out;
}

async function main(): Promise<void> {
  const every = numberArg('every', args.every, { min: 1, int: true });
  const passes = numberArg('passes', args.passes, { min: 1, max: 8, int: true });
  const factory = new OrtSessionFactory({ EXECUTION_PROVIDER: 'cpu', ORT_THREADS: 1 });
  const session = await factory.create(resolve(__dirname, '../../models/face-detection/yunet_s_dynamic.onnx'));
  const ferDetector = new YunetDetector(session, { size: FER_CANVAS, scoreThreshold: 0.5, nmsIou: 0.3, minFacePixels: 24 });
  const liveDetector = new YunetDetector(session, { size: 320, scoreThreshold: 0.6, nmsIou: 0.3, minFacePixels: 24 });
  const best = async (d: YunetDetector, image: BgrImage) => {
    const [found] = await d.detect([image]);
    return found.sort((a, b) => b.score - a.score)[0];
  };
  const report: Record<string, { faces: number; readback: Record<string, number> }> = {};
  const CENTRE = { cx: INPUT_SIZE / 2, cy: INPUT_SIZE / 2, side: INPUT_SIZE };
  /** align-fer's passes on one face: the summed turn after each pass, or null when a pass loses the face. */
  const passTotals = async (face: Uint8Array): Promise<number[] | null> => {
    const totals: number[] = [];
    let total = 0;
    for (let p = 0; p < passes; p++) {
      const view = p === 0 ? face : rotatedSquare(face, INPUT_SIZE, INPUT_SIZE, CENTRE, total, INPUT_SIZE);
      const seen = await best(ferDetector, { data: await ferCanvas(view), width: FER_CANVAS, height: FER_CANVAS });
      if (!seen) return null;
      total += eyeAngle(seen.landmarks);
      totals.push(total);
    }
    return totals;
  };
  const passReads: number[][] = Array.from({ length: passes }, () => []);

  // FER-2013 faces: turned inside the 48x48 crop, found on align-fer's canvas
  const fer = files(args.fer!, /\.(jpe?g|png)$/i).filter((_, i) => i % every === 0);
  const ferReads: Record<number, number[]> = Object.fromEntries(TURNS.map((t) => [t, []]));
  for (const path of fer) {
    const face = new Uint8Array((await sharp(path).grayscale().raw().toBuffer()).subarray(0, INPUT_SIZE * INPUT_SIZE));
    const base = await best(ferDetector, { data: await ferCanvas(face), width: FER_CANVAS, height: FER_CANVAS });
    if (!base) continue;
    for (const t of TURNS) {
      // rotatedSquare samples along angle a: content turns by -a, so -t turns the face by +t (clockwise, y down)
      const turned = rotatedSquare(face, INPUT_SIZE, INPUT_SIZE, { cx: INPUT_SIZE / 2, cy: INPUT_SIZE / 2, side: INPUT_SIZE }, rad(-t), INPUT_SIZE);
      const seen = await best(ferDetector, { data: await ferCanvas(turned), width: FER_CANVAS, height: FER_CANVAS });
      if (seen) ferReads[t].push(deg(eyeAngle(seen.landmarks) - eyeAngle(base.landmarks)) / t);
    }
    if (passes > 1) {
      const [plain, turned] = [await passTotals(face), await passTotals(rotatedSquare(face, INPUT_SIZE, INPUT_SIZE, CENTRE, rad(-20), INPUT_SIZE))];
      if (plain && turned) plain.forEach((v, p) => passReads[p].push(deg(turned[p] - v) / 20));
    }
  }
  report['FER-2013 48x48 (align-fer canvas)'] = { faces: ferReads[TURNS[0]].length, readback: Object.fromEntries(TURNS.map((t) => [`${t}°`, Number(median(ferReads[t]).toFixed(2))])) };

  if (passes > 1) {
    report[`FER-2013 48x48, +20° turn, after 1..${passes} passes`] = {
      faces: passReads[0].length,
      readback: Object.fromEntries(passReads.map((v, p) => [`${p + 1} pass${p ? 'es' : ''}`, Number(median(v).toFixed(2))])),
    };
  }

  // whole photos as a camera frame: the photo turned about the face's centre, the live detector settings
  const photos = files(args.photos!, /\.(jpe?g|png|tiff?)$/i).filter((_, i) => i % Math.max(1, Math.round(every / 10)) === 0);
  const photoReads: Record<number, number[]> = Object.fromEntries(TURNS.map((t) => [t, []]));
  for (const path of photos) {
    const { data, info } = await sharp(path).grayscale().raw().toBuffer({ resolveWithObject: true });
    const gray = new Uint8Array(data.subarray(0, info.width * info.height));
    const side = Math.min(info.width, info.height);
    const base = await best(liveDetector, { data: bgr(gray), width: info.width, height: info.height });
    if (!base) continue;
    const cx = base.box.x + base.box.w / 2;
    const cy = base.box.y + base.box.h / 2;
    for (const t of TURNS) {
      const turned = rotatedSquare(gray, info.width, info.height, { cx, cy, side }, rad(-t), side);
      const seen = await best(liveDetector, { data: bgr(turned), width: side, height: side });
      if (seen) photoReads[t].push(deg(eyeAngle(seen.landmarks) - eyeAngle(base.landmarks)) / t);
    }
  }
  report['whole photos (live detector, 320 px)'] = { faces: photoReads[TURNS[0]].length, readback: Object.fromEntries(TURNS.map((t) => [`${t}°`, Number(median(photoReads[t]).toFixed(2))])) };
  await session.release();
  if (args.json) console.log(JSON.stringify(report));
  else for (const [k, v] of Object.entries(report)) console.log(`${k}: ${v.faces} faces, median readback ${Object.entries(v.readback).map(([t, r]) => `${t} ${r}`).join(', ')}`);
}

main().catch((err) => {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(1);
});
