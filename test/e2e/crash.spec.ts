/**
 * kill -9 of the real server (a child process) at random points under load, ≥ 20 kills over one data directory:
 * camera add, sample capture, fine-tuning and model activation. After every restart: integrity_check = ok, no
 * foreign-key violation, every acknowledged write is there and whole, no orphan files, the active model is one that
 * exists and matches its sha256, the stored file camera streams again, and no ffmpeg of the dead server survives.
 * CRASH_SEED=<n> replays a run (the seed is printed).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_NAMES } from '../../src/contracts/labels';
import type { ServerMessage } from '../../src/contracts/messages';
import { ChildServer, checkDatabase, queryDatabase, startChildServer } from '../support/child-server';
import { D6 } from '../support/paths';
import { requireTool } from '../support/require-tool';
import { ffmpegProcessesWith } from '../support/rtsp';
import { TestClient } from '../support/server';

const VIDEO = D6;
const hasTools = Boolean(requireTool('ffmpeg', 'ffmpeg')) && existsSync(VIDEO);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);

/** mulberry32: small, seeded, good enough to pick delays and labels. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ppid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

interface ModelRow {
  version: number;
  file: string;
  sha256: string;
}

describe.skipIf(!hasTools)('kill -9 under load (child process, one data directory)', () => {
  const random = rng(SEED);
  const tmp = mkdtempSync(join(tmpdir(), 'iexpr-crash-'));
  const dataDir = join(tmp, 'data');
  // A private copy: its path marks this test's ffmpeg processes among everyone else's.
  const video = join(tmp, `crashcam-${SEED}.mp4`);
  let jpeg: Buffer;
  let server: ChildServer;
  let userId: string;
  let sentinel: string;
  const tally = { kills: 0, cameras: 0, samples: 0, models: 0, finetuneKillsAfterCommit: 0, activations: 0 };

  const api = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);
  const json = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const r = await api(path, init);
    if (!r.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  };
  const post = (path: string, body: unknown) =>
    json<{ id: string }>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  async function start(): Promise<void> {
    server = await startChildServer({ dataDir, env: { DEFAULT_FPS: '2', FINETUNE_THREADS: '1' } });
  }

  /** SIGKILL, then start over the same data directory and run the checks every restart must pass. */
  async function crashAndRestart(): Promise<void> {
    const dead = server;
    const exit = await dead.kill9();
    expect(exit.signal).toBe('SIGKILL');
    tally.kills++;
    await start();
    const db = checkDatabase(dataDir);
    expect(db.integrity).toBe('ok');
    expect(db.foreignKeyViolations).toBe(0);
    // The stored file camera comes back by itself.
    const deadline = Date.now() + 20_000;
    let status = '';
    while (Date.now() < deadline) {
      try {
        status = (await json<{ status: string }>(`/api/cameras/${sentinel}`)).status;
      } catch (err) {
        // A server that died after listening is a failure, with its last words. A live one can still reset a
        // request: fetch keeps sockets alive per origin, and a restarted server may get the killed one's port back.
        await Promise.race([server.exited, sleep(500)]);
        const gone = server.process.exitCode !== null || server.process.signalCode !== null;
        if (gone) {
          throw new Error(`restart #${tally.kills}: ${String(err)}; the server exited (${server.process.exitCode ?? server.process.signalCode}); log tail:\n${server.log().slice(-3000)}`, { cause: err });
        }
        await sleep(200);
        continue;
      }
      if (status === 'streaming') break;
      await sleep(200);
    }
    expect(status, `camera ${sentinel} after restart #${tally.kills}`).toBe('streaming');
    // The dead server's ffmpeg children lose their pipe and exit; none is left behind.
    let orphans: number[] = [];
    for (let i = 0; i < 50; i++) {
      orphans = ffmpegProcessesWith(video).filter((p) => ppid(p) !== server.pid);
      if (!orphans.length) break;
      await sleep(100);
    }
    expect(orphans, 'ffmpeg processes of the killed server').toEqual([]);
  }

  /**
   * Runs `worker` in `n` loops until the kill; the kill comes 0–300 ms after the first acknowledgement (so every
   * kill lands while writes are in flight and at least one of them was acknowledged).
   */
  async function underLoad(n: number, worker: (i: number) => Promise<void>): Promise<void> {
    let stop = false;
    let firstAck!: () => void;
    const acked = new Promise<void>((r) => (firstAck = r));
    const loops = Array.from({ length: n }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        try {
          await worker(w * 10_000 + i);
          firstAck();
        } catch {
          if (stop) return; // the connection died with the server
          await sleep(20);
        }
      }
    });
    await acked;
    await sleep(Math.floor(random() * 300));
    const killed = crashAndRestart();
    stop = true;
    await Promise.all(loops);
    await killed;
  }

  function modelRows(): ModelRow[] {
    return queryDatabase<ModelRow>(dataDir, 'SELECT version, file, sha256 FROM models WHERE user_id = ? ORDER BY version', userId);
  }
  function activeVersion(): number | null {
    return queryDatabase<{ active_version: number | null }>(dataDir, 'SELECT active_version FROM users WHERE id = ?', userId)[0].active_version;
  }

  /** Models: every row's file is whole, nothing unlisted on disk, the active version is listed, REST agrees. */
  async function checkModels(ackedVersions: Iterable<number>): Promise<ModelRow[]> {
    const rows = modelRows();
    for (const r of rows) {
      const bytes = readFileSync(join(dataDir, r.file));
      expect(createHash('sha256').update(bytes).digest('hex'), `${r.file}`).toBe(r.sha256);
    }
    const dir = join(dataDir, 'models', userId);
    const onDisk = existsSync(dir) ? readdirSync(dir).map((n) => join('models', userId, n)).sort() : [];
    expect(onDisk).toEqual(rows.map((r) => r.file).sort());
    const versions = rows.map((r) => r.version);
    for (const v of ackedVersions) expect(versions, `acknowledged model v${v}`).toContain(v);
    const active = activeVersion();
    if (active !== null) expect(versions).toContain(active);
    const listed = await json<{ version: number; active: boolean }[]>(`/api/users/${userId}/models`);
    expect(listed.map((m) => m.version).sort((a, b) => a - b)).toEqual(versions);
    expect(listed.filter((m) => m.active).map((m) => m.version)).toEqual(active === null ? [] : [active]);
    return rows;
  }

  /** Samples: every acknowledged one has its row; every row's PNG decodes to the 48x48 crop its sha1 names; no orphans. */
  async function checkSamples(acked: Set<string>): Promise<void> {
    const rows = queryDatabase<{ id: string; file: string; sha1: string }>(dataDir, 'SELECT id, file, sha1 FROM samples WHERE user_id = ?', userId);
    const ids = new Set(rows.map((r) => r.id));
    for (const id of acked) expect(ids.has(id), `acknowledged sample ${id}`).toBe(true);
    for (const r of rows) {
      const { data, info } = await sharp(join(dataDir, r.file)).greyscale().raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height]).toEqual([48, 48]);
      expect(createHash('sha1').update(data).digest('hex'), r.file).toBe(r.sha1);
    }
    const onDisk = readdirSync(join(dataDir, 'samples', userId)).map((n) => join('samples', userId, n)).sort();
    expect(onDisk).toEqual(rows.map((r) => r.file).sort());
  }

  beforeAll(async () => {
    console.log(`crash.spec seed ${SEED} (CRASH_SEED=${SEED} replays it)`);
    copyFileSync(VIDEO, video);
    jpeg = execFileSync('ffmpeg', ['-v', 'error', '-ss', '1', '-i', VIDEO, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'mjpeg', '-']);
    await start();
    userId = (await post('/api/users', { name: 'crash' })).id;
    sentinel = (await post('/api/cameras', { url: `file://${video}`, loop: true, fps: 2, name: 'sentinel' })).id;
  });

  afterAll(async () => {
    const exit = await server?.term(10_000);
    console.log(`crash.spec: ${JSON.stringify(tally)} (seed ${SEED})`);
    expect(exit?.timedOut).toBe(false);
    expect(ffmpegProcessesWith(video)).toEqual([]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('camera add: every 201-acknowledged camera exists after restart', async () => {
    for (let k = 0; k < 6; k++) {
      const acked = new Set<string>();
      await underLoad(2, async (i) => {
        const cam = await post('/api/cameras', { url: `file://${video}`, loop: true, fps: 1, name: `k${k}-${i}` });
        acked.add(cam.id);
      });
      const listed = new Set((await json<{ id: string }[]>('/api/cameras')).map((c) => c.id));
      const rows = new Set(queryDatabase<{ id: string }>(dataDir, 'SELECT id FROM cameras').map((r) => r.id));
      expect(listed).toEqual(rows);
      for (const id of acked) expect(listed.has(id), `acknowledged camera ${id}`).toBe(true);
      tally.cameras += acked.size;
      // Keep the load bounded: only the sentinel stays.
      for (const id of listed) if (id !== sentinel) expect((await api(`/api/cameras/${id}`, { method: 'DELETE' })).status).toBe(204);
    }
  }, 180_000);

  it('sample capture: every 201-acknowledged sample is whole after restart, no orphan file or row', async () => {
    const acked = new Set<string>();
    const upload = async (label: string) => {
      const form = new FormData();
      form.append('label', label);
      form.append('image', new Blob([new Uint8Array(jpeg)], { type: 'image/jpeg' }), 'face.jpg');
      const sample = await json<{ id: string }>(`/api/users/${userId}/samples`, { method: 'POST', body: form });
      acked.add(sample.id);
    };
    for (const label of LABEL_NAMES) await upload(label); // one per label: fine-tuning needs every expression
    for (let k = 0; k < 6; k++) {
      await underLoad(2, () => upload(LABEL_NAMES[Math.floor(random() * LABEL_NAMES.length)]));
      await checkSamples(acked);
    }
    tally.samples += acked.size;
  }, 180_000);

  it('fine-tuning: after a kill the active model is the old one or a whole new one', async () => {
    const runs: number[] = [];
    const acked = new Set<string>();
    /** Starts a fine-tune over WS; returns the socket and a promise of its model.updated (version), if it comes. */
    const startJob = async () => {
      const ws = await TestClient.connect(server.wsUrl);
      const ack = await ws.request({ type: 'finetune.start', id: 'ft', userId, epochs: 2 });
      expect(ack.type, JSON.stringify(ack)).toBe('ack');
      // Straight from the socket: a close (the kill) rejects at once instead of waiting out a timer.
      const updated = new Promise<number>((res, rej) => {
        ws.ws.on('message', (data, isBinary) => {
          if (isBinary) return;
          const m = JSON.parse(data.toString()) as ServerMessage;
          if (m.type !== 'model.updated') return;
          acked.add(String(m.version));
          res(m.version);
        });
        ws.ws.once('close', () => rej(new Error('socket closed before model.updated')));
      });
      return { ws, updated };
    };
    // One uninterrupted job: the baseline version and the job's duration, to aim the kills across it.
    const t0 = Date.now();
    const first = await startJob();
    const v1 = await first.updated;
    runs.push(Date.now() - t0);
    first.ws.close();
    expect(activeVersion()).toBe(v1);
    for (let k = 0; k < 5; k++) {
      const before = activeVersion();
      const job = await startJob();
      job.updated.catch(() => undefined);
      await sleep(Math.floor(random() * runs[0] * 1.2));
      await crashAndRestart();
      job.ws.close();
      const rows = await checkModels([...acked].map(Number));
      const active = activeVersion();
      // Either the job never committed (the old active version) or it did (its complete new version is active).
      const newest = rows.at(-1)!.version;
      expect([before, newest]).toContain(active);
      if (active !== before) {
        expect(newest).toBeGreaterThan(before ?? 0);
        tally.finetuneKillsAfterCommit++;
      }
    }
    // A whole new version: ending with one more clean job shows the registry still works after the kills.
    const last = await startJob();
    const vLast = await last.updated;
    last.ws.close();
    expect(activeVersion()).toBe(vLast);
    tally.models = acked.size;
    await checkModels([...acked].map(Number));
  }, 300_000);

  it('model activation: the active version after a kill is the last acknowledged one or the one in flight', async () => {
    const versions = [0, ...modelRows().map((r) => r.version)];
    expect(versions.length).toBeGreaterThanOrEqual(3);
    for (let k = 0; k < 5; k++) {
      const ws = await TestClient.connect(server.wsUrl);
      let lastAcked: number | null = null;
      let inFlight: number | null = null;
      await underLoad(1, async (i) => {
        const version = versions[Math.floor(random() * versions.length)];
        inFlight = version;
        const reply = await ws.request({ type: 'model.activate', id: `a${i}`, userId, version });
        if (reply.type !== 'ack') throw new Error(JSON.stringify(reply));
        lastAcked = version;
        tally.activations++;
      });
      ws.close();
      expect(lastAcked).not.toBeNull();
      await checkModels([]);
      expect([lastAcked, inFlight]).toContain(activeVersion() ?? 0);
    }
    expect(tally.kills).toBeGreaterThanOrEqual(20);
  }, 180_000);
});
