import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { ConfigModule } from '../../src/config.module';
import { CodedError } from '../../src/contracts/errors';
import { FaceEmbedder, faceEmbeddingPath } from '../../src/inference/embedding/face-embedder';
import { ExpressionTrunk, GeneralHead } from '../../src/inference/expression.classifier';
import { HeadForward } from '../../src/inference/heads/head-forward';
import { HeadTrainStep } from '../../src/inference/heads/head-train-step';
import { detectorPath, headPath, trunkPath } from '../../src/inference/inference.module';
import { ExecutionProviderError, OrtSessionFactory, supportedBackends } from '../../src/inference/ort.sessions';
import { YunetDetector } from '../../src/inference/yunet.detector';
import { FinetuneRunner } from '../../src/personalization/finetune/finetune.runner';
import { FinetuneService } from '../../src/personalization/finetune/finetune.service';
import { finetuneSession } from '../../src/personalization/finetune/finetune.sessions';
import { generalAssetPaths } from '../../src/personalization/finetune/general-assets';
import { PersonalizationModule } from '../../src/personalization/personalization.module';
import type { ModelRegistry } from '../../src/personalization/registry/model.registry';
import { StorageModule } from '../../src/storage/storage.module';
import { MODELS } from '../support/paths';

/**
 * Every model the server loads goes through the one OrtSessionFactory, so every one of them honours
 * EXECUTION_PROVIDER: asked for a provider this onnxruntime-node build lists but cannot start here (cuda without its
 * provider libraries), each fails the same way, with the same error type, code and message. A model that bypassed
 * the factory would load on the CPU instead and make its case fail.
 */
const cudaInstalled = (() => {
  const bin = dirname(require.resolve('onnxruntime-node/package.json')) + '/bin';
  try {
    return execSync(`find ${bin} -name 'libonnxruntime_providers_cuda*'`).toString().trim() !== '';
  } catch {
    return false;
  }
})();

const config = loadConfig({ MODELS_DIR: MODELS, EXECUTION_PROVIDER: 'cuda', ORT_THREADS: '1' });
const paths = generalAssetPaths(MODELS);
const UNAVAILABLE = /EXECUTION_PROVIDER=cuda is unavailable on this machine .*Use EXECUTION_PROVIDER=cpu/;

/**
 * The one failure every model must show: code `unavailable` and the factory's message naming the provider; in the
 * process that asked, also the factory's own class (a CodedError). A fine-tune's sessions fail in its worker thread,
 * and the error crosses the thread as a message, so there only the code and message can be the same.
 */
async function expectUnavailable(attempt: Promise<unknown>, where: 'in-process' | 'worker' = 'in-process') {
  const err = await attempt.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'the model loaded: it did not go through the factory that honours EXECUTION_PROVIDER').toBeInstanceOf(Error);
  expect(err).toMatchObject({ code: 'unavailable', message: expect.stringMatching(UNAVAILABLE) });
  if (where === 'in-process') {
    expect(err).toBeInstanceOf(ExecutionProviderError);
    expect(err).toBeInstanceOf(CodedError);
  }
}

describe.skipIf(cudaInstalled || !supportedBackends().includes('cuda'))('EXECUTION_PROVIDER=cuda where cuda cannot start', () => {
  const factory = new OrtSessionFactory({ ...config, quiet: true });
  const models: [string, string, () => Promise<unknown>][] = [
    ['the detector (YuNet)', detectorPath(config), async () => new YunetDetector(await factory.create(detectorPath(config)), { size: 320, scoreThreshold: 0.6, nmsIou: 0.3, minFacePixels: 24 })],
    ['the trunk (ExpressionTrunk)', trunkPath(config), async () => new ExpressionTrunk(await factory.create(trunkPath(config)))],
    ['the general head (GeneralHead)', headPath(config), async () => new GeneralHead(await factory.create(headPath(config)))],
    ['the personal heads (HeadForward)', paths.headForward, () => HeadForward.create(factory, paths.headForward)],
    ['the training step (HeadTrainStep)', paths.trainStep, () => HeadTrainStep.create(factory, paths.trainStep)],
    ['the face embedder (FaceEmbedder)', faceEmbeddingPath(MODELS), () => FaceEmbedder.create(factory, faceEmbeddingPath(MODELS))],
  ];

  it.each(models)('%s fails with ExecutionProviderError naming the provider', async (_name, file, load) => {
    if (!existsSync(file)) return void console.warn(`execution-provider: ${file} missing, case not run`);
    await expectUnavailable(load());
  });

  it('the personal heads in PersonalizationModule take the configured provider (the DI path)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'iexn-ep-'));
    try {
      const c = loadConfig({ DATA_DIR: dir, MODELS_DIR: MODELS, EXECUTION_PROVIDER: 'cuda' });
      await expectUnavailable(Test.createTestingModule({ imports: [ConfigModule.forRoot(c), StorageModule, PersonalizationModule] }).compile());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe.skipIf(!Object.values(paths).every(existsSync))('a fine-tune job (worker thread)', () => {
    const samples = Array.from({ length: 14 }, (_, i) => ({ label: i % 7, face: new Uint8Array(48 * 48).fill(i * 9) }));
    const runner = new FinetuneRunner();

    it('the job carries the provider and its worker fails the same way', async () => {
      const job = runner.run({ paths, samples, options: { epochs: 1 }, session: finetuneSession(config) });
      await expectUnavailable(job, 'worker');
    });

    it('FinetuneService puts the configured provider into the job', async () => {
      const registry = { activeVersion: () => 0 } as unknown as ModelRegistry;
      const service = new FinetuneService(runner, registry, { paths, session: finetuneSession(config), minSamplesPerLabel: 1, maxConcurrent: 1 });
      await expectUnavailable(service.finetune('ana', samples, { epochs: 1 }), 'worker');
    });
  });
});
