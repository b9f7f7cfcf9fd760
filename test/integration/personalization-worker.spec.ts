import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import type { FinetuneJob } from '../../src/personalization/finetune/finetune.messages';
import { FinetuneRunner, workerEntry } from '../../src/personalization/finetune/finetune.runner';
import { generalAssetPaths } from '../../src/personalization/finetune/general-assets';
import { HEAD_FLOATS, joinHead } from '../../src/inference/heads/head-shape';
import { Rng } from '../../src/personalization/finetune/rng';
import { ROOT } from '../support/paths';

const paths = generalAssetPaths(join(ROOT, 'models'));
const ready = Object.values(paths).every(existsSync);
if (!ready) console.warn('personalization-worker: skipped, models/general/* (trunk, head.f32, replay, head-train-step) missing');

function job(seed: number, epochs: number): FinetuneJob {
  const rng = new Rng(seed);
  const samples = Array.from({ length: 14 }, (_, i) => ({ label: i % 7, face: new Uint8Array(48 * 48).map(() => rng.int(256)) }));
  return { paths, samples, options: { epochs, seed }, session: { EXECUTION_PROVIDER: 'cpu', threads: 2, spin: true } };
}

/** Counts event-loop turns while `p` runs: a training loop on the main thread would starve the interval. */
async function ticksDuring<T>(p: Promise<T>): Promise<{ value: T; ticks: number; ms: number }> {
  let ticks = 0;
  const t0 = Date.now();
  const timer = setInterval(() => ticks++, 10);
  try {
    const value = await p;
    return { value, ticks, ms: Date.now() - t0 };
  } finally {
    clearInterval(timer);
  }
}

describe.skipIf(!ready)('fine-tuning in a worker thread', () => {
  it('runs from the TypeScript sources (tsx loader), off the main thread, with progress events', async () => {
    expect(workerEntry(join(ROOT, 'src/personalization/finetune')).file).toContain('finetune.worker.ts');
    const progress: number[] = [];
    const { value, ticks, ms } = await ticksDuring(new FinetuneRunner().run(job(1, 3), { onProgress: (p) => progress.push(p.epoch) }));
    expect(isMainThread).toBe(true);
    expect(value.threadId).toBeGreaterThan(0);
    expect(progress).toEqual([1, 2, 3]);
    expect(joinHead(value.weights).length).toBe(HEAD_FLOATS);
    expect(value.metrics).toMatchObject({ trainSamples: 14, heldOut: 0, epochs: 3 });
    // the event loop kept turning: at least a third of the 10 ms ticks the run's duration allows
    expect(ticks).toBeGreaterThan(ms / 10 / 3);
  });

  it('is cancellable', async () => {
    const ac = new AbortController();
    const run = new FinetuneRunner().run(job(2, 100), { onProgress: (p) => p.epoch === 1 && ac.abort(), signal: ac.signal });
    await expect(run).rejects.toMatchObject({ code: 'conflict', reason: 'cancelled' });
  });

  it('rejects a malformed job with a typed error', async () => {
    const bad = { ...job(3, 1), options: { epochs: -1 } } as FinetuneJob;
    await expect(new FinetuneRunner().run(bad)).rejects.toMatchObject({ code: 'internal', reason: 'bad_job' });
  });

  describe('compiled JavaScript (the dist/ path)', () => {
    const out = mkdtempSync(join(tmpdir(), 'iexn-dist-'));
    afterAll(() => rmSync(out, { recursive: true, force: true }));
    it('the compiled runner starts the compiled worker and trains', async () => {
      const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      const src = join(ROOT, 'src', 'personalization', 'finetune');
      execFileSync(process.execPath, [
        tsc, '--outDir', out, '--rootDir', join(ROOT, 'src'), '--module', 'commonjs', '--target', 'ES2022', '--esModuleInterop',
        '--skipLibCheck', '--strict', '--types', 'node', '--experimentalDecorators', '--emitDecoratorMetadata', join(src, 'finetune.runner.ts'), join(src, 'finetune.worker.ts'),
      ], { cwd: ROOT, stdio: 'inherit' });
      symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir'); // as in a deployed dist/
      const compiledDir = join(out, 'personalization', 'finetune');
      const compiled = createRequire(join(compiledDir, 'x.js'))('./finetune.runner.js') as typeof import('../../src/personalization/finetune/finetune.runner');
      const entry = compiled.workerEntry(compiledDir);
      expect(entry).toEqual({ file: join(compiledDir, 'finetune.worker.js'), eval: false });
      const result = await new compiled.FinetuneRunner(entry).run(job(4, 1));
      expect(result.threadId).toBeGreaterThan(0);
      expect(result.metrics.epochs).toBe(1);
    }, 180_000);
  });
});
