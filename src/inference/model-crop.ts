import { z } from 'zod';
import { CropRule, DEFAULT_CROP } from './face-crop';

/**
 * The crop the general model was trained for, as models/manifest.json states it (`general.crop`, written by
 * scripts/export.py): DEFAULT_CROP, with the eyes levelled for a model trained on levelled faces
 * (scripts/align-fer.ts). Every path that cuts a face for the expression model (the pipeline, its workers, photo
 * samples, the benchmarks) takes its rule from here, so a model is never fed crops of another contract.
 */
const ManifestCrop = z.object({
  general: z.object({ crop: z.object({ levelEyes: z.boolean() }).strict().optional() }).passthrough().optional(),
}).passthrough();

export class ModelCropError extends Error {}

/** The general model's CropRule from a parsed manifest (absent `crop`, or no manifest: DEFAULT_CROP). */
export function cropFromManifest(manifest: unknown, where = 'models/manifest.json'): CropRule {
  if (manifest === undefined) return DEFAULT_CROP;
  const parsed = ManifestCrop.safeParse(manifest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelCropError(`${where}: ${issue.path.join('.')} ${issue.message} (general.crop.levelEyes must be true or false)`);
  }
  return parsed.data.general?.crop?.levelEyes ? { ...DEFAULT_CROP, levelEyes: true } : DEFAULT_CROP;
}

/** Nest token for the general model's CropRule (InferenceModule reads it from the manifest at startup). */
export const GENERAL_CROP = Symbol('GENERAL_CROP');
