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

/** Most levelling passes a set of 48x48 faces gets (scripts/align-fer.ts; each reads what is left of a tilt). */
export const MAX_LEVEL_PASSES = 8;

const ManifestLevelling = z.object({
  general: z.object({ ferLevelling: z.object({ passes: z.number().int().min(1).max(MAX_LEVEL_PASSES) }).passthrough().optional() }).passthrough().optional(),
}).passthrough();

/**
 * How FER-2013-style 48x48 faces must be levelled for this model (`npm run evaluate` scores a test set so): 0 for a
 * model trained on the original faces; for one trained on levelled faces (`general.crop.levelEyes`), the passes its
 * training faces were levelled with (`general.ferLevelling.passes`, written by scripts/export.py; 1 for exports from
 * before it was recorded, when scripts/align-fer.ts had one pass).
 */
export function ferLevelPasses(manifest: unknown, where = 'models/manifest.json'): number {
  if (!cropFromManifest(manifest, where).levelEyes) return 0;
  const parsed = ManifestLevelling.safeParse(manifest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelCropError(`${where}: ${issue.path.join('.')} ${issue.message} (general.ferLevelling.passes must be an integer 1..${MAX_LEVEL_PASSES})`);
  }
  return parsed.data.general?.ferLevelling?.passes ?? 1;
}

/** Nest token for the general model's CropRule (InferenceModule reads it from the manifest at startup). */
export const GENERAL_CROP = Symbol('GENERAL_CROP');
