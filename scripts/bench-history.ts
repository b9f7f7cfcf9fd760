/**
 * npm run bench:history: what an 8-camera hour of history costs, through the real code.
 * 1. Writes `--cameras` × `--seconds` rows (one face per camera, one row per second) through SqliteHistoryRepository,
 *    one transaction per simulated flush (all cameras' rows of one second), as HistoryRecorder does; reports the
 *    write time per flush and the size on disk (database + WAL after a checkpoint).
 * 2. Serves that database with the real HistoryController/HistoryService (a Nest app on loopback) and downloads the
 *    whole range as CSV from a child process; reports the export time, bytes, rows and the server's RSS before and at
 *    its peak (sampled every 20 ms), so the growth is the server's own.
 */
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG, loadConfig } from '../src/config';
import { LABEL_NAMES, type LabelName, type ScoresByLabel } from '../src/contracts/labels';
import { HistoryController } from '../src/delivery/history.controller';
import { EventBus } from '../src/events/event-bus';
import { RxEventBus } from '../src/events/rx-event-bus';
import { HistoryMetrics } from '../src/history/history.metrics';
import { HistoryService } from '../src/history/history.service';
import { SqliteDatabase } from '../src/storage/database';
import { CameraRepository } from '../src/storage/ports/camera.repository';
import { HistoryRecord, HistoryRepository } from '../src/storage/ports/history.repository';
import { UserRepository } from '../src/storage/ports/user.repository';
import { SqliteCameraRepository } from '../src/storage/sqlite/camera.repository';
import { SqliteHistoryRepository } from '../src/storage/sqlite/history.repository';
import { SqliteUserRepository } from '../src/storage/sqlite/user.repository';
import { cliArgs, numberArg } from './cli';

void Controller;
const USAGE = 'npm run bench:history -- [--cameras 8] [--seconds 3600] [--json]';
const args = cliArgs(USAGE, { cameras: { type: 'string' }, seconds: { type: 'string' }, json: { type: 'boolean' } });
const cameras = numberArg('cameras', args.cameras ?? '8', { min: 1, max: 1000, int: true });
const seconds = numberArg('seconds', args.seconds ?? '3600', { min: 1, max: 86_400 * 7, int: true });

/** Deterministic, realistic-looking scores: a slow drift between labels per camera. */
function scoresAt(cam: number, t: number): { scores: ScoresByLabel; label: LabelName } {
  const raw = LABEL_NAMES.map((_, i) => Math.exp(2 * Math.sin(t / 37 + cam + i * 0.9)));
  const sum = raw.reduce((a, b) => a + b, 0);
  const scores = Object.fromEntries(LABEL_NAMES.map((l, i) => [l, raw[i] / sum])) as ScoresByLabel;
  const label = LABEL_NAMES.reduce((best, l) => (scores[l] > scores[best] ? l : best), LABEL_NAMES[0]);
  return { scores, label };
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-history-'));
  try {
    const config = loadConfig({ DATA_DIR: dir, HOST: '127.0.0.1', LOG_LEVEL: 'error' });
    const database = new SqliteDatabase(config.dataDir);
    const repo = new SqliteHistoryRepository(database);
    // the last hour (older than HISTORY_DAYS would be deleted by the service's retention sweep at start)
    const start = Math.floor(Date.now() / 1000) * 1000 - seconds * 1000;
    const flushMs: number[] = [];
    for (let t = 0; t < seconds; t++) {
      const rows: HistoryRecord[] = [];
      for (let c = 0; c < cameras; c++) {
        const { scores, label } = scoresAt(c, t);
        rows.push({ ts: start + t * 1000, cameraId: `cam${c}`, trackId: 1 + Math.floor(t / 300), userId: null, label, scores, faces: 1, frames: 5, box: { x: 200 + (t % 7), y: 120, w: 96, h: 110 } });
      }
      const t0 = performance.now();
      repo.insertMany(rows);
      flushMs.push(performance.now() - t0);
    }
    database.db.pragma('wal_checkpoint(TRUNCATE)');
    const file = join(dir, 'iexpressionnet.db');
    const dbBytes = statSync(file).size + (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
    const historyBytes = (database.db.prepare("SELECT SUM(pgsize) AS n FROM dbstat WHERE name LIKE 'history%'").get() as { n: number } | undefined)?.n;

    @Module({
      controllers: [HistoryController],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: SqliteDatabase, useValue: database },
        { provide: HistoryRepository, useValue: repo },
        { provide: CameraRepository, useClass: SqliteCameraRepository },
        { provide: UserRepository, useClass: SqliteUserRepository },
        { provide: EventBus, useClass: RxEventBus },
        { provide: HistoryMetrics, useFactory: () => new HistoryMetrics() },
        HistoryService,
      ],
    })
    class BenchModule {}
    const app = await NestFactory.create(BenchModule, { logger: ['error'] });
    await app.listen(0, '127.0.0.1');
    const url = `${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/api/history?from=${start}&to=${start + seconds * 1000}&format=csv`;
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
    const t0 = performance.now();
    // the client in its own process: its buffers are not the server's
    const client = spawn(process.execPath, ['-e', `require('http').get(process.argv[1], (r) => { let n = 0, lines = 0; r.on('data', (c) => { n += c.length; for (const b of c) if (b === 10) lines++; }); r.on('end', () => console.log(JSON.stringify({ status: r.statusCode, bytes: n, lines }))); })`, url]);
    let out = '';
    client.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise<void>((resolve, reject) => client.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`client exited ${code}`)))));
    const exportMs = performance.now() - t0;
    clearInterval(sampler);
    const got = JSON.parse(out) as { status: number; bytes: number; lines: number };
    await app.close();
    database.close();
    const result = {
      cameras,
      seconds,
      rows: cameras * seconds,
      writeMsPerFlush: { mean: flushMs.reduce((a, b) => a + b, 0) / flushMs.length, p99: percentile(flushMs, 0.99) },
      diskMB: mb(dbBytes),
      historyTableAndIndexesMB: historyBytes ? mb(historyBytes) : null,
      bytesPerRow: Math.round(dbBytes / (cameras * seconds)),
      export: { status: got.status, csvMB: mb(got.bytes), rows: got.lines - 1, seconds: Math.round(exportMs) / 1000, rssBeforeMB: mb(rssBefore), rssPeakMB: mb(rssPeak), rssGrowthMB: mb(rssPeak - rssBefore) },
      node: process.version,
      sqlite: (execFileSync(process.execPath, ['-e', "console.log(require('better-sqlite3')(':memory:').prepare('select sqlite_version() v').get().v)"]).toString().trim()),
    };
    if (args.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`${result.rows} rows (${cameras} cameras x ${seconds} s, 1 face each): ${result.diskMB} MB on disk (${result.bytesPerRow} B/row; history table + indexes ${result.historyTableAndIndexesMB} MB)`);
      console.log(`write per flush (${cameras} rows, one transaction): mean ${result.writeMsPerFlush.mean.toFixed(2)} ms, p99 ${result.writeMsPerFlush.p99.toFixed(2)} ms`);
      const e = result.export;
      console.log(`CSV export of the whole range: HTTP ${e.status}, ${e.rows} rows, ${e.csvMB} MB in ${e.seconds} s; server RSS ${e.rssBeforeMB} -> peak ${e.rssPeakMB} MB (+${e.rssGrowthMB} MB)`);
    }
    if (got.status !== 200 || got.lines - 1 !== cameras * seconds) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
