/**
 * History end to end on the real server (AppModule, listen(0)): a looping file camera (d6.mp4) bound to a user runs
 * for ~20 s; then the stored 1 s rows, the 10 s aggregation (checked against our own aggregation of those rows), the
 * CSV export (parsed, equal to the JSON export), the label shares, the typed 4xx errors, an admin's range deletion,
 * and deleting the user removing their rows.
 */
import { existsSync, rmSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryBucketView, HistoryRowView, HistorySeriesView, HistorySummaryView } from '../../src/contracts/history';
import { LABEL_NAMES } from '../../src/contracts/labels';
import { startRealApp, type RealApp } from '../support/app';
import { D6 } from '../support/paths';

const ready = existsSync(D6);
if (!ready) {
  if (process.env.CI === 'true') throw new Error(`${D6} is missing (required when CI=true)`);
  console.warn(`skipping: ${D6} is missing (face videos live in ../shared/videos)`);
}

const TOKEN = 'history-admin-token';
const READ = 'history-read-token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** RFC 4180-ish: our export quotes only cells holding `"`, `,` or a newline. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}

describe.skipIf(!ready)('history end to end (real app, looping d6.mp4)', () => {
  let server: RealApp;
  let cameraId: string;
  let userId: string;
  const from = Date.now() - 1000;
  let to: number;
  const api = (method: 'get' | 'post' | 'delete', path: string, token = TOKEN) => request(server.url)[method](path).set('authorization', `Bearer ${token}`);
  const exportJson = async (query: string): Promise<HistoryRowView[]> => (await api('get', `/api/history?${query}&format=json`, READ).expect(200)).body as HistoryRowView[];

  beforeAll(async () => {
    server = await startRealApp({ HOST: '127.0.0.1', ADMIN_TOKEN: TOKEN, READ_TOKEN: READ, BATCH_SIZE: '4', HISTORY_FLUSH_MS: '500' });
    userId = (await api('post', '/api/users').send({ name: 'Hana' }).expect(201)).body.id;
    cameraId = (await api('post', '/api/cameras').send({ url: `file://${D6}`, name: 'd6', loop: true, fps: 5, userId }).expect(201)).body.id;
    // ~20 s of the camera, and at least 15 distinct seconds stored (the machine is shared: wait for the rows, not the clock)
    const start = Date.now();
    for (;;) {
      await sleep(2000);
      const rows = await exportJson(`cameraId=${cameraId}&from=${from}&to=${Date.now() + 60_000}`);
      if (Date.now() - start >= 20_000 && new Set(rows.map((r) => r.ts)).size >= 15) break;
      if (Date.now() - start > 150_000) throw new Error(`only ${rows.length} history rows after 150 s`);
    }
    // Removing the camera closes its tracks' open intervals; the next flush writes them: then the history is still.
    await api('delete', `/api/cameras/${cameraId}`).expect(204);
    await sleep(1500);
    to = Date.now() + 1000;
  }, 200_000);

  afterAll(async () => {
    await server?.close();
    if (server) rmSync(server.dataDir, { recursive: true, force: true });
  });

  it('stores one row per track per second for the camera, with the user, scores, label and box', async () => {
    const rows = await exportJson(`cameraId=${cameraId}&from=${from}&to=${to}`);
    expect(rows.length).toBeGreaterThanOrEqual(15);
    const keys = new Set<string>();
    for (const r of rows) {
      expect(r.cameraId).toBe(cameraId);
      expect(r.userId).toBe(userId); // the camera is bound to the user
      expect(r.ts % 1000).toBe(0);
      expect(r.frames).toBeGreaterThan(0);
      expect(r.frames).toBeLessThanOrEqual(6); // 5 fps: at most ~5 frames in a second (one more at a boundary jitter)
      expect(r.faces).toBeGreaterThanOrEqual(1);
      const sum = LABEL_NAMES.reduce((s, l) => s + r.scores[l], 0);
      expect(sum).toBeCloseTo(1, 4);
      expect(r.label).toBe(LABEL_NAMES.reduce((best, l) => (r.scores[l] > r.scores[best] ? l : best), LABEL_NAMES[0]));
      expect(r.box.w).toBeGreaterThan(0);
      const key = `${r.trackId}@${r.ts}`;
      expect(keys.has(key)).toBe(false); // one row per track per interval
      keys.add(key);
    }
    // in time order
    expect(rows.map((r) => r.ts)).toEqual([...rows.map((r) => r.ts)].sort((a, b) => a - b));
  });

  it('aggregates to 10 s in the database exactly as the 1 s rows average', async () => {
    const rows = await exportJson(`cameraId=${cameraId}&from=${from}&to=${to}`);
    const series = (await api('get', `/api/history?cameraId=${cameraId}&from=${from}&to=${to}&resolution=10s`, READ).expect(200)).body as HistorySeriesView;
    expect(series.resolution).toBe('10s');
    const mine = new Map<number, HistoryRowView[]>();
    for (const r of rows) {
      const b = Math.floor(r.ts / 10_000) * 10_000;
      mine.set(b, [...(mine.get(b) ?? []), r]);
    }
    expect(series.buckets.map((b) => b.ts)).toEqual([...mine.keys()].sort((a, b) => a - b));
    expect(series.buckets.length).toBeGreaterThanOrEqual(2);
    for (const bucket of series.buckets) {
      const group = mine.get(bucket.ts)!;
      expect(bucket.rows).toBe(group.length);
      expect(bucket.tracks).toBe(new Set(group.map((r) => r.trackId)).size);
      expect(bucket.faces).toBe(Math.max(...group.map((r) => r.faces)));
      for (const l of LABEL_NAMES) expect(bucket.scores[l]).toBeCloseTo(group.reduce((s, r) => s + r.scores[l], 0) / group.length, 9);
      expect(bucket.label).toBe(LABEL_NAMES.reduce((best, l) => (bucket.scores[l] > bucket.scores[best] ? l : best), LABEL_NAMES[0]));
    }
    // 1s resolution: one bucket per stored second
    const fine = (await api('get', `/api/history?cameraId=${cameraId}&from=${from}&to=${to}&resolution=1s`, READ).expect(200)).body as HistorySeriesView;
    expect(fine.buckets.map((b) => b.ts)).toEqual([...new Set(rows.map((r) => r.ts))]);
    // the streamed bucket export equals the JSON answer
    const streamed = (await api('get', `/api/history?cameraId=${cameraId}&from=${from}&to=${to}&resolution=10s&format=json`, READ).expect(200))
      .body as HistoryBucketView[];
    expect(streamed).toEqual(series.buckets);
  });

  it('exports CSV that parses to the same rows as the JSON export', async () => {
    const query = `cameraId=${cameraId}&from=${from}&to=${to}`;
    const json = await exportJson(query);
    const res = await api('get', `/api/history?${query}&format=csv`, READ).buffer(true).parse((r, cb) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (text += c));
      r.on('end', () => cb(null, text));
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toMatch(/attachment; filename=".+\.csv"/);
    const [header, ...lines] = parseCsv(res.body as string);
    expect(header).toEqual(['ts', 'time', 'camera_id', 'track_id', 'user_id', 'label', ...LABEL_NAMES, 'faces', 'frames', 'box_x', 'box_y', 'box_w', 'box_h']);
    expect(lines).toHaveLength(json.length);
    lines.forEach((cells, i) => {
      const o = Object.fromEntries(header.map((h, j) => [h, cells[j]]));
      const r = json[i];
      expect(Number(o.ts)).toBe(r.ts);
      expect(o.time).toBe(new Date(r.ts).toISOString());
      expect(o.camera_id).toBe(r.cameraId);
      expect(Number(o.track_id)).toBe(r.trackId);
      expect(o.user_id).toBe(r.userId ?? '');
      expect(o.label).toBe(r.label);
      for (const l of LABEL_NAMES) expect(Number(o[l])).toBe(r.scores[l]);
      expect([o.faces, o.frames, o.box_x, o.box_y, o.box_w, o.box_h].map(Number)).toEqual([r.faces, r.frames, r.box.x, r.box.y, r.box.w, r.box.h]);
    });
  });

  it('gives the share of time per label, in all and per camera/user', async () => {
    const rows = await exportJson(`userId=${userId}&from=${from}&to=${to}`);
    const summary = (await api('get', `/api/history/summary?userId=${userId}&from=${from}&to=${to}`, READ).expect(200)).body as HistorySummaryView;
    expect(summary.total.seconds).toBe(rows.length);
    expect(LABEL_NAMES.reduce((s, l) => s + summary.total.shares[l], 0)).toBeCloseTo(1, 9);
    for (const l of LABEL_NAMES) expect(summary.total.shares[l]).toBeCloseTo(rows.filter((r) => r.label === l).length / rows.length, 9);
    expect(summary.groups).toEqual([expect.objectContaining({ cameraId, userId, seconds: rows.length })]);
  });

  it('answers bad input with typed 4xx errors', async () => {
    const q = (query: string) => api('get', `/api/history?${query}`, READ);
    expect((await q('cameraId=nope').expect(404)).body).toMatchObject({ error: 'not_found', message: expect.stringContaining('nope') });
    expect((await q('userId=unope').expect(404)).body).toMatchObject({ error: 'not_found' });
    expect((await q(`from=${to}&to=${from}`).expect(400)).body).toMatchObject({ error: 'bad_message', message: expect.stringContaining('after') });
    const huge = (await q(`cameraId=${cameraId}&from=${to - 30 * 86_400_000}&to=${to}&resolution=1s`).expect(400)).body;
    expect(huge).toMatchObject({ error: 'bad_message', message: expect.stringMatching(/buckets.*coarser/) });
    // …while the same range at 1 h is fine
    await q(`cameraId=${cameraId}&from=${to - 30 * 86_400_000}&to=${to}&resolution=1h`).expect(200);
    expect((await q('resolution=5s').expect(400)).body).toMatchObject({ error: 'bad_message', message: expect.stringContaining('resolution') });
    expect((await q('from=yesterday').expect(400)).body).toMatchObject({ error: 'bad_message', message: expect.stringContaining('from') });
    expect((await q('format=xml').expect(400)).body).toMatchObject({ error: 'bad_message' });
    // a read token may query, not delete
    await api('delete', `/api/history?from=${from}&to=${to}`, READ).expect(403);
    expect((await api('delete', '/api/history').expect(400)).body).toMatchObject({ error: 'bad_message', message: expect.stringContaining('required') });
  });

  it('lets an admin delete a time range, and deleting the user deletes their rows', async () => {
    const before = await exportJson(`cameraId=${cameraId}&from=${from}&to=${to}`);
    const cut = before[Math.floor(before.length / 3)].ts;
    const inRange = before.filter((r) => r.ts < cut).length;
    expect((await api('delete', `/api/history?cameraId=${cameraId}&from=${from}&to=${cut}`).expect(200)).body).toEqual({ deleted: inRange });
    const after = await exportJson(`cameraId=${cameraId}&from=${from}&to=${to}`);
    expect(after).toEqual(before.filter((r) => r.ts >= cut));
    expect(after.length).toBeGreaterThan(0);

    await api('delete', `/api/users/${userId}`).expect(204);
    // deletion runs in batches after the user's row is gone: wait for it
    let left = after.length;
    for (let i = 0; i < 50 && left > 0; i++) {
      await sleep(100);
      // all cameras: once the last row of this (removed) camera is gone, the camera itself is unknown (404)
      left = (await exportJson(`from=${from}&to=${to}`)).filter((r) => r.userId === userId).length;
    }
    expect(left).toBe(0);
    // and the user, and the removed camera whose rows were all theirs, are unknown to the history now
    await api('get', `/api/history?userId=${userId}`, READ).expect(404);
    await api('get', `/api/history?cameraId=${cameraId}`, READ).expect(404);
  });
});
