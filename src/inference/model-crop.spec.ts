import { describe, expect, it } from 'vitest';
import { DEFAULT_CROP } from './face-crop';
import { cropFromManifest, ModelCropError } from './model-crop';

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
