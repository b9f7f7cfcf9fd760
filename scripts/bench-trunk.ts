/**
 * npx tsx scripts/bench-trunk.ts [--batch 8] [--runs 300] [--threads 1] <trunk.onnx> [<trunk.onnx> ...]
 *
 * Time expression trunks (input [N,1,48,48] -> features [N,2048]) the way the server runs them: the server's
 * OrtSessionFactory (graph optimisation 'all', sequential, no spinning), one intra-op thread per session by default
 * (ORT_THREADS=1, as each inference worker), batch 8. Prints ms per batch (median and p90 of --runs runs after a
 * warm-up) and ms per face, with the 1-minute load average before and after: on a shared machine a figure is only as
 * good as the load beside it. Models are timed in turn, interleaved by round, so a load spike hits all of them.
 */
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@nestjs/common';
import { ModelSession, OrtSessionFactory } from '../src/inference/ort.sessions';
import { fail } from './cli';

const USAGE = 'bench-trunk [--batch 8] [--runs 300 (>= 10)] [--threads 1] [--json] <trunk.onnx> ...';
const parsed = (() => {
  try {
    return parseArgs({
      options: {
        batch: { type: 'string', default: '8' },
        runs: { type: 'string', default: '300' },
        threads: { type: 'string', default: '1' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    fail((err as Error).message, USAGE);
  }
})();
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(`usage: ${USAGE}\n`);
  process.exit(0);
}
const batch = Number(values.batch);
const runs = Number(values.runs);
const threads = Number(values.threads);
if (!positionals.length || !(batch >= 1) || !(runs >= 10) || !(threads >= 0)) fail('give at least one trunk.onnx; --batch >= 1, --runs >= 10, --threads >= 0', USAGE);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main(): Promise<void> {
  Logger.overrideLogger(['error']);
  const factory = new OrtSessionFactory({ EXECUTION_PROVIDER: 'cpu', ORT_THREADS: threads, quiet: true });
  const models: { path: string; session: ModelSession; times: number[] }[] = [];
  for (const p of positionals) models.push({ path: resolve(p), session: await factory.create(resolve(p)), times: [] });
  // deterministic non-constant faces: a constant input could let a kernel take a shortcut
  const input = Float32Array.from({ length: batch * 48 * 48 }, (_, i) => ((i * 7919) % 256) / 255);
  const feeds = (s: ModelSession) => ({ [s.inputNames[0]]: { data: input, dims: [batch, 1, 48, 48] } });
  for (const m of models) {
    const out = await m.session.run(feeds(m.session));
    const f = out[m.session.outputNames[0]];
    if (f.dims[0] !== batch || f.dims[1] !== 2048) throw new Error(`${m.path}: output ${f.dims.join('x')}, expected ${batch}x2048`);
    for (let i = 0; i < 20; i++) await m.session.run(feeds(m.session));
  }
  const loadBefore = loadavg()[0];
  for (let r = 0; r < runs; r++) {
    for (const m of models) {
      const t0 = performance.now();
      await m.session.run(feeds(m.session));
      m.times.push(performance.now() - t0);
    }
  }
  const loadAfter = loadavg()[0];
  const rows = models.map((m) => {
    const t = [...m.times].sort((a, b) => a - b);
    const median = quantile(t, 0.5);
    return { model: m.path, batch, threads, runs, msPerBatch: median, minMsPerBatch: t[0], p90MsPerBatch: quantile(t, 0.9), msPerFace: median / batch };
  });
  if (values.json) {
    process.stdout.write(JSON.stringify({ load1: [loadBefore, loadAfter], rows }) + '\n');
    return;
  }
  process.stdout.write(`batch ${batch}, ${threads} intra-op thread(s), ${runs} runs each; load average (1 min) ${loadBefore.toFixed(2)} -> ${loadAfter.toFixed(2)}\n`);
  for (const r of rows) {
    process.stdout.write(`${r.model}: ${r.msPerBatch.toFixed(2)} ms/batch median (min ${r.minMsPerBatch.toFixed(2)}, p90 ${r.p90MsPerBatch.toFixed(2)}) = ${r.msPerFace.toFixed(3)} ms/face (min ${(r.minMsPerBatch / batch).toFixed(3)})\n`);
  }
  for (const m of models) await m.session.release();
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
