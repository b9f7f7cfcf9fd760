import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FinetuneMetrics } from '../../src/contracts/personalization';
import { FEATURES, HEAD_PARAMS, HeadWeights, joinHead } from '../../src/inference/heads/head-shape';
import { Rng } from '../../src/personalization/finetune/rng';
import { probabilities } from '../../src/personalization/finetune/blend';
import { HeadForward, headTensors } from '../../src/inference/heads/head-forward';
import { ModelFileStore } from '../../src/personalization/registry/model-files';
import { GENERAL_VERSION, ModelRegistry } from '../../src/personalization/registry/model.registry';
import { SqliteDatabase } from '../../src/storage/database';
import { DataDirBlobStore } from '../../src/storage/files/data-dir.blob-store';
import { ModelRepository } from '../../src/storage/ports/model.repository';
import { UserRepository } from '../../src/storage/ports/user.repository';
import { SqliteModelRepository } from '../../src/storage/sqlite/model.repository';
import { SqliteUserRepository } from '../../src/storage/sqlite/user.repository';
import { cpuFactory } from '../support/ort';
import { ROOT } from '../support/paths';

const EXPRESSION = join(ROOT, 'models', 'general', 'expression.onnx');
const TRUNK = join(ROOT, 'models', 'general', 'trunk.onnx');
const FORWARD = join(ROOT, 'models', 'general', 'head-forward.onnx');

const metrics = (seconds: number): FinetuneMetrics => ({
  generalAccuracy: 0.4,
  personalAccuracy: 0.8,
  heldOut: 7,
  trainSamples: 28,
  replaySamples: 350,
  epochs: 9,
  seconds,
});

function head(seed: number): HeadWeights {
  const rng = new Rng(seed);
  const w = {} as HeadWeights;
  for (const p of HEAD_PARAMS) w[p.name] = new Float32Array(p.dims.reduce((a, b) => a * b, 1)).map(() => rng.uniform(-0.05, 0.05));
  return w;
}

function features(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return new Float32Array(n * FEATURES).map(() => Math.max(0, rng.uniform(-1, 2)));
}

describe('ModelRegistry', () => {
  let forward: HeadForward;
  let dir: string;
  let db: SqliteDatabase;
  let users: UserRepository;
  let models: ModelRepository;
  const open = (store = new ModelFileStore(new DataDirBlobStore(dir))) => new ModelRegistry(store, models, users, forward, EXPRESSION);

  beforeAll(async () => {
    forward = await HeadForward.create(cpuFactory(1), FORWARD);
  });
  afterAll(() => forward.release());
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'iexn-registry-'));
    db = new SqliteDatabase(dir);
    users = new SqliteUserRepository(db);
    models = new SqliteModelRepository(db);
    users.insert({ id: 'ana', name: 'Ana', createdAt: 1 });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a version stored with blend weight w scores faces with w·personal + (1−w)·general (issue 17), after a restart too', async () => {
    const general = head(100);
    const personal = head(101);
    const x = features(5, 102);
    const reg = new ModelRegistry(new ModelFileStore(new DataDirBlobStore(dir)), models, users, forward, EXPRESSION, { general, trunkSha256: 'a'.repeat(64) });
    await reg.save('ana', personal, { ...metrics(1), blend: 0.3 });
    const softmax = (l: Float32Array) => probabilities(l, 5);
    const g = softmax(await forward.run(headTensors(general), x, 5));
    const p = softmax(await forward.run(headTensors(personal), x, 5));
    const check = async (r: ModelRegistry) => {
      const got = softmax(await r.headFor('ana')!.run(x, 5));
      for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(0.3 * p[i] + 0.7 * g[i], 5);
    };
    await check(reg);
    expect(models.get('ana', 1)?.trunkSha256).toBe('a'.repeat(64));
    const again = new ModelRegistry(new ModelFileStore(new DataDirBlobStore(dir)), models, users, forward, EXPRESSION, { general, trunkSha256: 'a'.repeat(64) });
    await again.init();
    await check(again);
    // the same rows under another shipped trunk: not applied, listed as stale, not activatable
    const moved = new ModelRegistry(new ModelFileStore(new DataDirBlobStore(dir)), models, users, forward, EXPRESSION, { general, trunkSha256: 'b'.repeat(64) });
    await moved.init();
    expect(moved.headFor('ana')).toBeNull();
    expect(moved.staleUsers()).toEqual(['ana']);
    await expect(moved.activate('ana', 1)).rejects.toMatchObject({ code: 'conflict' });
  });

  it('with a gate, a face the general head is at least that sure of keeps the general scores; the others the personal ones', async () => {
    const general = head(110);
    const personal = head(111);
    const n = 8;
    const x = features(n, 112);
    const g = probabilities(await forward.run(headTensors(general), x, n), n);
    const p = probabilities(await forward.run(headTensors(personal), x, n), n);
    // a gate between the rows' top general probabilities, so that some faces are above it and some below
    const tops = Array.from({ length: n }, (_, r) => Math.max(...g.subarray(r * 7, r * 7 + 7))).sort((a, b) => a - b);
    const gate = (tops[3] + tops[4]) / 2;
    const reg = new ModelRegistry(new ModelFileStore(new DataDirBlobStore(dir)), models, users, forward, EXPRESSION, { general, gate });
    await reg.save('ana', personal, metrics(1)); // no blend weight: the personal head alone before the gate
    const got = probabilities(await reg.headFor('ana')!.run(x, n), n);
    let kept = 0;
    for (let r = 0; r < n; r++) {
      const sure = Math.max(...g.subarray(r * 7, r * 7 + 7)) >= gate;
      kept += sure ? 1 : 0;
      for (let c = 0; c < 7; c++) expect(got[r * 7 + c]).toBeCloseTo((sure ? g : p)[r * 7 + c], 5);
    }
    expect(kept).toBe(4);
  });

  it('saves versions as files + rows, serves the active head, rolls back and returns to general', async () => {
    const reg = open();
    expect(reg.headFor('ana')).toBeNull();
    const v1 = await reg.save('ana', head(1), metrics(3));
    expect(v1).toMatchObject({ userId: 'ana', version: 1, active: true, metrics: metrics(3) });
    expect(readFileSync(join(dir, 'models', 'ana', '1.head.f32')).byteLength).toBe(joinHead(head(1)).byteLength);
    const x = features(3, 9);
    const expect1 = await forward.run(headTensors(head(1)), x, 3);
    expect(await reg.headFor('ana')!.run(x, 3)).toEqual(expect1);

    await reg.save('ana', head(2), metrics(4));
    expect(reg.list('ana').map((v) => [v.version, v.active])).toEqual([[1, false], [2, true]]);
    const out2 = await reg.headFor('ana')!.run(x, 3);
    expect(out2).toEqual(await forward.run(headTensors(head(2)), x, 3));
    expect(out2).not.toEqual(expect1);

    await reg.activate('ana', 1); // rollback
    expect(reg.activeVersion('ana')).toBe(1);
    expect(await reg.headFor('ana')!.run(x, 3)).toEqual(expect1);
    await reg.activate('ana', GENERAL_VERSION);
    expect(reg.headFor('ana')).toBeNull();
    expect(reg.activeVersion('ana')).toBeNull();

    await expect(reg.activate('ana', 7)).rejects.toMatchObject({ code: 'not_found' });
    await expect(reg.activate('bob', 1)).rejects.toMatchObject({ code: 'not_found' });
    await expect(reg.save('bob', head(1), metrics(1))).rejects.toMatchObject({ code: 'not_found' });
    expect(() => reg.list('bob')).toThrow(/unknown user/);

    // a restart loads the active head from disk
    await reg.activate('ana', 2);
    const again = open();
    await again.init();
    expect(await again.headFor('ana')!.run(x, 3)).toEqual(await forward.run(headTensors(head(2)), x, 3));
  });

  it('a failed write lists nothing and leaves the active model as it was', async () => {
    const reg = open();
    await reg.save('ana', head(1), metrics(1));
    class FailingStore extends ModelFileStore {
      override async write(): Promise<{ file: string; sha256: string }> {
        writeFileSync(join(dir, 'models', 'ana', '.2.head.f32.dead.tmp'), new Uint8Array(1000)); // half-written temp
        throw new Error('disk full');
      }
    }
    const failing = open(new FailingStore(new DataDirBlobStore(dir)));
    await failing.init();
    await expect(failing.save('ana', head(2), metrics(2))).rejects.toThrow('disk full');
    expect(failing.list('ana').map((v) => v.version)).toEqual([1]);
    expect(failing.activeVersion('ana')).toBe(1);
    // next start sweeps the temp file
    await open().init();
    expect(readdirSync(join(dir, 'models', 'ana'))).toEqual(['1.head.f32']);
  });

  it('a file renamed but never committed (crash before the row) is not listed and is swept at start-up', async () => {
    const store = new ModelFileStore(new DataDirBlobStore(dir));
    await store.write('ana', 1, new Uint8Array(joinHead(head(1)).buffer));
    const reg = open();
    await reg.init();
    expect(reg.list('ana')).toEqual([]);
    expect(reg.headFor('ana')).toBeNull();
    expect(existsSync(join(dir, 'models', 'ana', '1.head.f32'))).toBe(false);
  });

  it('an active file that was damaged on disk is refused (sha256) and the general head serves', async () => {
    const reg = open();
    await reg.save('ana', head(1), metrics(1));
    truncateSync(join(dir, 'models', 'ana', '1.head.f32'), 1000);
    const again = open();
    await again.init();
    expect(again.headFor('ana')).toBeNull();
    await expect(again.activate('ana', 1)).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('removeUser drops the files and the loaded head', async () => {
    const reg = open();
    await reg.save('ana', head(1), metrics(1));
    users.delete('ana');
    await reg.removeUser('ana');
    expect(reg.headFor('ana')).toBeNull();
    expect(existsSync(join(dir, 'models', 'ana'))).toBe(false);
    expect(models.list('ana')).toEqual([]);
  });

  it('kill -9 while saving and switching versions: every listed version is whole, the active one loads', async () => {
    // a separate process saves versions in a loop (activating each), and is SIGKILLed mid-way
    const tsxCjs = createRequire(join(ROOT, 'x.js')).resolve('tsx/cjs');
    const child = String.raw`
      require(${JSON.stringify(tsxCjs)});
      const { SqliteDatabase } = require(${JSON.stringify(join(ROOT, 'src/storage/database.ts'))});
      const { SqliteUserRepository } = require(${JSON.stringify(join(ROOT, 'src/storage/sqlite/user.repository.ts'))});
      const { SqliteModelRepository } = require(${JSON.stringify(join(ROOT, 'src/storage/sqlite/model.repository.ts'))});
      const { DataDirBlobStore } = require(${JSON.stringify(join(ROOT, 'src/storage/files/data-dir.blob-store.ts'))});
      const { ModelFileStore } = require(${JSON.stringify(join(ROOT, 'src/personalization/registry/model-files.ts'))});
      const { ModelRegistry } = require(${JSON.stringify(join(ROOT, 'src/personalization/registry/model.registry.ts'))});
      const { HeadForward } = require(${JSON.stringify(join(ROOT, 'src/inference/heads/head-forward.ts'))});
      const { HEAD_PARAMS } = require(${JSON.stringify(join(ROOT, 'src/inference/heads/head-shape.ts'))});
      const { OrtSessionFactory } = require(${JSON.stringify(join(ROOT, 'src/inference/ort.sessions.ts'))});
      (async () => {
        const db = new SqliteDatabase(${JSON.stringify(dir)});
        const reg = new ModelRegistry(new ModelFileStore(new DataDirBlobStore(${JSON.stringify(dir)})), new SqliteModelRepository(db), new SqliteUserRepository(db), await HeadForward.create(new OrtSessionFactory({ EXECUTION_PROVIDER: 'cpu', ORT_THREADS: 1, quiet: true }), ${JSON.stringify(FORWARD)}), '');
        for (let i = 1; ; i++) {
          const w = {};
          for (const p of HEAD_PARAMS) w[p.name] = new Float32Array(p.dims.reduce((a, b) => a * b, 1)).fill(i);
          await reg.save('ana', w, { generalAccuracy: null, personalAccuracy: null, heldOut: 0, trainSamples: i, replaySamples: 0, epochs: 1, seconds: 0 });
          process.stdout.write('saved ' + i + '\n');
        }
      })();`;
    const proc = spawn(process.execPath, ['-e', child], { stdio: ['ignore', 'pipe', 'inherit'] });
    let saved = 0;
    await new Promise<void>((resolve) => {
      proc.stdout.on('data', (d: Buffer) => {
        saved = Math.max(saved, ...String(d).match(/\d+/g)!.map(Number));
        if (saved >= 3) proc.kill('SIGKILL');
      });
      proc.on('exit', () => resolve());
    });
    expect(saved).toBeGreaterThanOrEqual(3);

    db.close();
    db = new SqliteDatabase(dir);
    users = new SqliteUserRepository(db);
    models = new SqliteModelRepository(db);
    const reg = open();
    await reg.init();
    const listed = reg.list('ana');
    expect(listed.length).toBeGreaterThanOrEqual(3);
    for (const v of listed) {
      const w = await reg.weights('ana', v.version); // size + sha256 checked
      expect(w['fc2.bias'][0]).toBe(v.metrics.trainSamples);
    }
    const active = reg.activeVersion('ana');
    expect(active).toBe(listed.at(-1)!.version);
    const out = await reg.headFor('ana')!.run(features(1, 1), 1);
    expect(out.length).toBe(7);
    // nothing on disk that no row refers to
    expect(readdirSync(join(dir, 'models', 'ana')).sort()).toEqual(listed.map((v) => `${v.version}.head.f32`).sort());
  }, 60_000);

  describe.skipIf(!existsSync(EXPRESSION) || !existsSync(TRUNK))('export', () => {
    it('a single ONNX file whose output equals trunk -> personal head', async () => {
      const reg = open();
      await reg.save('ana', head(5), metrics(1));
      const bytes = await reg.exportOnnx('ana', 1);
      expect(bytes.byteLength).toBe(readFileSync(EXPRESSION).byteLength);
      const rng = new Rng(2);
      const n = 4;
      const input = new Float32Array(n * 48 * 48).map(() => rng.next());
      const exported = await ort.InferenceSession.create(bytes);
      const got = (await exported.run({ input: new ort.Tensor('float32', input, [n, 1, 48, 48]) })).logits.data as Float32Array;
      const trunk = await ort.InferenceSession.create(TRUNK);
      const f = (await trunk.run({ input: new ort.Tensor('float32', input, [n, 1, 48, 48]) })).features.data as Float32Array;
      const want = await forward.run(headTensors(head(5)), f, n);
      const general = (await (await ort.InferenceSession.create(EXPRESSION)).run({ input: new ort.Tensor('float32', input, [n, 1, 48, 48]) })).logits
        .data as Float32Array;
      for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 4);
      expect(Math.max(...got.map((v, i) => Math.abs(v - general[i])))).toBeGreaterThan(1e-3); // it is not the general model
      await expect(reg.exportOnnx('ana', 9)).rejects.toMatchObject({ code: 'not_found' });
    });
  });
});
