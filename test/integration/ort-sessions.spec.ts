import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { execSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { ConfigModule } from '../../src/config.module';
import { FEATURE_EXTRACTOR, InferenceModule } from '../../src/inference/inference.module';
import type { FeatureExtractor } from '../../src/inference/inference.types';
import { ExecutionProviderError, OrtSessionFactory } from '../../src/inference/ort.sessions';
import { GeneralHead } from '../../src/inference/expression.classifier';
import { DEFAULT_CROP } from '../../src/inference/face-crop';
import { GENERAL_CROP } from '../../src/inference/model-crop';
import { MODELS } from '../support/paths';

const cudaInstalled = (() => {
  const bin = dirname(require.resolve('onnxruntime-node/package.json')) + '/bin';
  try {
    return execSync(`find ${bin} -name 'libonnxruntime_providers_cuda*'`).toString().trim() !== '';
  } catch {
    return false;
  }
})();

describe('OrtSessionFactory', () => {
  it('refuses a provider this onnxruntime-node build does not know, naming it', () => {
    expect(() => new OrtSessionFactory({ EXECUTION_PROVIDER: 'cpu', ORT_THREADS: 1 })).not.toThrow();
    expect(() => new OrtSessionFactory({ EXECUTION_PROVIDER: 'nope' as never, ORT_THREADS: 1 })).toThrow(
      /EXECUTION_PROVIDER=nope is not supported.*supported: cpu/,
    );
  });

  // where the CUDA provider library is installed (ONNXRUNTIME_NODE_INSTALL=cuda12) this failure cannot be provoked
  it.skipIf(cudaInstalled)(
    'stops InferenceModule at startup with a clear error when the requested provider cannot start (cuda here)',
    async () => {
      const config = loadConfig({ MODELS_DIR: MODELS, EXECUTION_PROVIDER: 'cuda' });
      const attempt = Test.createTestingModule({ imports: [ConfigModule.forRoot(config), InferenceModule] }).compile();
      await expect(attempt).rejects.toThrow(ExecutionProviderError);
      await expect(
        Test.createTestingModule({ imports: [ConfigModule.forRoot(config), InferenceModule] }).compile(),
      ).rejects.toThrow(/EXECUTION_PROVIDER=cuda is unavailable.*EXECUTION_PROVIDER=cpu/);
    },
  );

  it('loads the trunk and head on cpu: 2048 features, 7 logits per face, batched', async () => {
    const config = loadConfig({ MODELS_DIR: MODELS });
    const ref = await Test.createTestingModule({ imports: [ConfigModule.forRoot(config), InferenceModule] }).compile();
    const trunk = ref.get<FeatureExtractor>(FEATURE_EXTRACTOR);
    const head = ref.get(GeneralHead);
    const faces = [new Uint8Array(48 * 48).fill(128), new Uint8Array(48 * 48).map((_, i) => i % 256)];
    const features = await trunk.features(faces);
    expect(features).toHaveLength(2 * 2048);
    const logits = await head.run(features, 2);
    expect(logits).toHaveLength(14);
    // two different faces give different logits; batch of one gives the same row as in the batch of two
    expect(Array.from(logits.slice(0, 7))).not.toEqual(Array.from(logits.slice(7)));
    const single = await head.run(await trunk.features([faces[1]]), 1);
    single.forEach((v, i) => expect(v).toBeCloseTo(logits[7 + i], 4));
    await ref.close();
  });

  it('provides the general model\'s crop from models/manifest.json, and stops at startup on an entry it does not understand', async () => {
    const shipped = await Test.createTestingModule({ imports: [ConfigModule.forRoot(loadConfig({ MODELS_DIR: MODELS, INFERENCE_WORKERS: '0' })), InferenceModule] }).compile();
    expect(shipped.get(GENERAL_CROP)).toEqual(DEFAULT_CROP);
    await shipped.close();
    // the shipped files with a manifest that asks for levelled crops, then one with a crop it cannot read
    const dir = mkdtempSync(join(tmpdir(), 'model-crop-'));
    try {
      for (const name of readdirSync(MODELS)) if (name !== 'manifest.json') symlinkSync(join(MODELS, name), join(dir, name));
      const manifest = JSON.parse(readFileSync(join(MODELS, 'manifest.json'), 'utf8'));
      const write = (crop: unknown) => writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, general: { ...manifest.general, crop } }));
      const config = loadConfig({ MODELS_DIR: dir, INFERENCE_WORKERS: '0' });
      write({ levelEyes: true });
      const levelled = await Test.createTestingModule({ imports: [ConfigModule.forRoot(config), InferenceModule] }).compile();
      expect(levelled.get(GENERAL_CROP)).toEqual({ ...DEFAULT_CROP, levelEyes: true });
      await levelled.close();
      write({ levelEyes: 'yes' });
      await expect(Test.createTestingModule({ imports: [ConfigModule.forRoot(config), InferenceModule] }).compile()).rejects.toThrow(
        /manifest.json: general.crop.levelEyes/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
