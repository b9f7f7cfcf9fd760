/**
 * The per-subject sets' faces as the live path sees them, shared by the scripts that read those sets
 * (bench-personalization.ts, probe-trunk-features.ts). Layout: <root>/<subject>/{calibration,test}/<label>/<image>.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { LABEL_NAMES } from '../src/contracts/labels';
import { cropFace, CropRule, DEFAULT_CROP } from '../src/inference/face-crop';
import { cropFromManifest } from '../src/inference/model-crop';
import type { OrtSessionFactory } from '../src/inference/ort.sessions';
import { BgrImage, YunetDetector } from '../src/inference/yunet.detector';

export const subjectDirs = (p: string): string[] => readdirSync(p).filter((n) => statSync(join(p, n)).isDirectory()).sort();

export interface Face {
  label: number;
  face: Uint8Array;
}

/** The detector with the settings every per-subject measurement has used (the server's defaults at 320 px). */
export async function openSubjectDetector(factory: OrtSessionFactory, modelsDir: string): Promise<YunetDetector> {
  return new YunetDetector(await factory.create(join(modelsDir, 'face-detection', 'yunet_s_dynamic.onnx')), {
    size: 320,
    scoreThreshold: 0.6,
    nmsIou: 0.3,
    minFacePixels: 24,
  });
}

/**
 * The crop a models folder's general model was trained for (src/inference/model-crop.ts: its manifest's general.crop).
 */
export function modelCrop(modelsDir: string): CropRule {
  const path = join(modelsDir, 'manifest.json');
  return cropFromManifest(existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined, path);
}

/** Decoded image -> the 48x48 crop of its best face (cut by `rule`), or null when the detector finds none. */
export async function loadFaces(dir: string, detector: YunetDetector, rule: CropRule = DEFAULT_CROP): Promise<{ faces: Face[]; missed: number; total: number }> {
  const faces: Face[] = [];
  let missed = 0;
  let total = 0;
  for (const labelName of subjectDirs(dir)) {
    const label = (LABEL_NAMES as readonly string[]).indexOf(labelName);
    if (label < 0) throw new Error(`${join(dir, labelName)}: not one of ${LABEL_NAMES.join(', ')}`);
    for (const file of readdirSync(join(dir, labelName)).sort()) {
      total++;
      const { data, info } = await sharp(join(dir, labelName, file)).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const bgr = new Uint8Array(info.width * info.height * 3);
      for (let i = 0; i < bgr.length; i += 3) {
        bgr[i] = data[i + 2];
        bgr[i + 1] = data[i + 1];
        bgr[i + 2] = data[i];
      }
      const image: BgrImage = { data: bgr, width: info.width, height: info.height };
      const [found] = await detector.detect([image]);
      const best = found.sort((x, y) => y.score - x.score)[0];
      if (!best) {
        missed++;
        continue;
      }
      faces.push({ label, face: cropFace(image, best.box, rule, 0, best.landmarks).crop48 });
    }
  }
  return { faces, missed, total };
}
