import { describe, expect, it } from 'vitest';
import { DEFAULT_CROP } from './face-crop';
import { cropFromManifest, ferLevelPasses, MAX_LEVEL_PASSES, ModelCropError } from './model-crop';

describe('cropFromManifest', () => {
  it('is the default crop without a manifest, a general entry or a crop', () => {
    expect(cropFromManifest(undefined)).toBe(DEFAULT_CROP);
    expect(cropFromManifest({ embedding: {} })).toBe(DEFAULT_CROP);
    expect(cropFromManifest({ general: { arch: 'seed' } })).toBe(DEFAULT_CROP);
    expect(cropFromManifest({ general: { crop: { levelEyes: false } } })).toBe(DEFAULT_CROP);
  });

  it('levels the eyes for a model trained on levelled faces, keeping the default square', () => {
    expect(cropFromManifest({ general: { crop: { levelEyes: true } } })).toEqual({ ...DEFAULT_CROP, levelEyes: true });
  });

  it('refuses a crop it does not understand, naming the file and the field', () => {
    expect(() => cropFromManifest({ general: { crop: { levelEyes: 'yes' } } }, '/m/manifest.json')).toThrow(ModelCropError);
    expect(() => cropFromManifest({ general: { crop: { levelEyes: 'yes' } } }, '/m/manifest.json')).toThrow(/\/m\/manifest.json: general.crop.levelEyes/);
    expect(() => cropFromManifest({ general: { crop: { levelEyes: true, scale: 2 } } })).toThrow(/must be true or false/);
    expect(() => cropFromManifest('nonsense')).toThrow(ModelCropError);
  });
});

describe('ferLevelPasses', () => {
  const levelled = (extra: object = {}) => ({ general: { crop: { levelEyes: true }, ...extra } });

  it('is 0 for a model trained on the original faces, whatever else the manifest says', () => {
    expect(ferLevelPasses(undefined)).toBe(0);
    expect(ferLevelPasses({ general: { crop: { levelEyes: false }, ferLevelling: { passes: 3 } } })).toBe(0);
  });

  it('is the recorded passes for a levelled model, and one pass for an export from before they were recorded', () => {
    expect(ferLevelPasses(levelled({ ferLevelling: { passes: 3, by: 'scripts/align-fer.ts' } }))).toBe(3);
    expect(ferLevelPasses(levelled())).toBe(1);
  });

  it('refuses passes it cannot apply, naming the file and the field', () => {
    expect(() => ferLevelPasses(levelled({ ferLevelling: { passes: 0 } }), '/m/manifest.json')).toThrow(/\/m\/manifest.json: general.ferLevelling.passes/);
    expect(() => ferLevelPasses(levelled({ ferLevelling: { passes: 2.5 } }))).toThrow(ModelCropError);
    expect(() => ferLevelPasses(levelled({ ferLevelling: { passes: MAX_LEVEL_PASSES + 1 } }))).toThrow(/integer 1\.\.8/);
    expect(() => ferLevelPasses(levelled({ ferLevelling: 'three' }))).toThrow(ModelCropError);
  });
});
