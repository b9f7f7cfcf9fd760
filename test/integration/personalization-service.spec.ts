import { Test } from '@nestjs/testing';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { ConfigModule } from '../../src/config.module';
import { FinetuneService } from '../../src/personalization/finetune/finetune.service';
import { FinetuneProgress } from '../../src/personalization/finetune/finetune.trainer';
import { generalAssetPaths } from '../../src/personalization/finetune/general-assets';
import { Rng } from '../../src/personalization/finetune/rng';
import { PersonalizationModule } from '../../src/personalization/personalization.module';
import { ModelRegistry } from '../../src/personalization/registry/model.registry';
import { StorageModule } from '../../src/storage/storage.module';
import { UserRepository } from '../../src/storage/ports/user.repository';
import { ROOT } from '../support/paths';

const ready = Object.values(generalAssetPaths(join(ROOT, 'models'))).every(existsSync);
if (!ready) console.warn('personalization-service: skipped, models/general/* missing');

const faces = (perLabel: number[], seed = 1) => {
  const rng = new Rng(seed);
  return perLabel.flatMap((n, label) => Array.from({ length: n }, () => ({ label, face: new Uint8Array(48 * 48).map(() => rng.int(256)) })));
};

describe.skipIf(!ready)('PersonalizationModule through the DI container', () => {
  let dir: string;
  let close: () => Promise<void>;
  let service: FinetuneService;
  let registry: ModelRegistry;
  let users: UserRepository;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iexn-svc-'));
    const config = loadConfig({ DATA_DIR: dir, MODELS_DIR: join(ROOT, 'models'), FINETUNE_MIN_SAMPLES_PER_LABEL: '2' });
    const mod = await Test.createTestingModule({ imports: [ConfigModule.forRoot(config), StorageModule, PersonalizationModule] }).compile();
    const app = mod.createNestApplication({ logger: false });
    await app.init();
    close = () => app.close();
    service = app.get(FinetuneService);
    registry = app.get(ModelRegistry);
    users = app.get(UserRepository);
    users.insert({ id: 'ana', name: 'Ana', createdAt: 1 });
  });
  afterEach(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fine-tunes in a worker, stores version 1 and activates it; a second run makes version 2', async () => {
    const progress: FinetuneProgress[] = [];
    const v1 = await service.finetune('ana', faces([2, 2, 2, 2, 2, 2, 2]), { epochs: 2, onProgress: (p) => progress.push(p) });
    expect(v1).toMatchObject({ userId: 'ana', version: 1, active: true });
    expect(v1.metrics).toMatchObject({ trainSamples: 14, heldOut: 0, epochs: 2 });
    expect(progress.map((p) => p.epoch)).toEqual([1, 2]);
    expect(registry.headFor('ana')).not.toBeNull();
    const v2 = await service.finetune('ana', faces([2, 2, 2, 2, 2, 2, 2], 2), { epochs: 1 });
    expect(v2.version).toBe(2);
    expect(registry.list('ana').map((v) => [v.version, v.active])).toEqual([[1, false], [2, true]]);
  });

  it('refuses too few samples, unknown users and a second concurrent job with typed errors, storing nothing', async () => {
    await expect(service.finetune('ana', faces([2, 2, 2, 0, 2, 2, 2]))).rejects.toMatchObject({ code: 'too_few_samples', message: /happy: 0/ });
    await expect(service.finetune('ana', faces([2, 1, 2, 2, 2, 2, 2]))).rejects.toMatchObject({ code: 'too_few_samples', message: /disgust: 1/ });
    await expect(service.finetune('bob', faces([2, 2, 2, 2, 2, 2, 2]))).rejects.toMatchObject({ code: 'not_found' });
    const first = service.finetune('ana', faces([2, 2, 2, 2, 2, 2, 2]), { epochs: 30 });
    await expect(service.finetune('ana', faces([2, 2, 2, 2, 2, 2, 2]))).rejects.toMatchObject({ code: 'busy' });
    expect(service.cancel('ana')).toBe(true);
    await expect(first).rejects.toMatchObject({ code: 'conflict', reason: 'cancelled' });
    expect(registry.list('ana')).toEqual([]);
    expect(registry.activeVersion('ana')).toBeNull();
  });
});
