/**
 * Face enrolment on the real server (issue 14): REST enrol from a real photo (../shared/datasets/taiwanese), labelled
 * samples enrol their face too, bad input (no face, two faces, unknown user, not an image) is a typed error that stores
 * nothing, and deleting a face or the user leaves no embedding row and no crop in the data directory. The WS `face.enrol`
 * command takes the same path.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { WS_SUBPROTOCOL } from '../../src/contracts/wire';
import { SqliteDatabase } from '../../src/storage/database';
import { SqliteFaceGallery } from '../../src/storage/sqlite/face-gallery.repository';
import { startRealApp, RealApp } from '../support/app';
import { TAIWANESE } from '../support/paths';

const photo = (subject: string, label = 'happy') => {
  const dir = join(TAIWANESE, subject, 'calibration', label);
  return join(dir, readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort()[0]);
};
const have = existsSync(join(TAIWANESE, 'P01')) && existsSync(join(TAIWANESE, 'P02'));
if (!have) console.warn(`skipping face enrolment e2e: ${TAIWANESE} is absent (datasets live in ../shared)`);

describe.skipIf(!have)('face enrolment (real server, real photos)', () => {
  let server: RealApp;
  let ana: string;
  const files = (userId: string) => {
    const dir = join(server.dataDir, 'faces', userId);
    return existsSync(dir) ? readdirSync(dir) : [];
  };
  /** The faces rows as the database holds them, read on a connection of the test's own. */
  const rows = (userId: string) => {
    const db = new SqliteDatabase(server.dataDir);
    try {
      return new SqliteFaceGallery(db).listByUser(userId);
    } finally {
      db.close();
    }
  };
  const enrol = (userId: string, image: Buffer, name = 'face.jpg') => request(server.url).post(`/api/users/${userId}/faces`).attach('image', image, name);
  const user = async (name: string) => ((await request(server.url).post('/api/users').send({ name }).expect(201)).body as { id: string }).id;

  beforeAll(async () => {
    server = await startRealApp({ HOST: '127.0.0.1' });
    ana = await user('Ana');
  });
  afterAll(async () => {
    await server?.close();
    if (server) rmSync(server.dataDir, { recursive: true, force: true });
  });

  it('enrols a real photo: one face row with a 128-d unit embedding and its aligned 150x150 crop on disk', async () => {
    const res = await enrol(ana, readFileSync(photo('P01')));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ userId: ana, source: 'enrol', sampleId: null, current: true });
    const [row] = rows(ana);
    expect(row.id).toBe(res.body.id);
    expect(row.embedding).toHaveLength(128);
    expect(Math.hypot(...row.embedding)).toBeCloseTo(1, 4);
    expect(files(ana)).toEqual([`${row.id}.png`]);
    const meta = await sharp(join(server.dataDir, row.file)).metadata();
    expect([meta.width, meta.height, meta.channels]).toEqual([150, 150, 3]);
    const list = await request(server.url).get(`/api/users/${ana}/faces`).expect(200);
    expect(list.body).toEqual([res.body]);
    const view = await request(server.url).get(`/api/users/${ana}`).expect(200);
    expect(view.body).toMatchObject({ faces: 1, reenrol: false });
  });

  it('a labelled sample enrols its face too (source sample, pointing at the sample)', async () => {
    const bo = await user('Bo');
    const res = await request(server.url).post(`/api/users/${bo}/samples`).field('label', 'happy').attach('image', readFileSync(photo('P02')), 'p.jpg');
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const faces = (await request(server.url).get(`/api/users/${bo}/faces`).expect(200)).body as { source: string; sampleId: string }[];
    expect(faces).toEqual([expect.objectContaining({ source: 'sample', sampleId: res.body.id })]);
    // the same person's photos are closer to each other than to another person's
    const [p1] = rows(ana);
    const [p2] = rows(bo);
    const again = await enrol(ana, readFileSync(photo('P01', 'sad')));
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    const p1b = rows(ana).find((f) => f.id === again.body.id)!;
    const dist = (a: Float32Array, b: Float32Array) => Math.hypot(...a.map((v, i) => v - b[i]));
    expect(dist(p1.embedding, p1b.embedding)).toBeLessThan(dist(p1.embedding, p2.embedding));
  });

  it('bad input is a typed error and stores nothing: no face, two faces, unknown user, not an image', async () => {
    const before = { rows: rows(ana).length, files: files(ana).length };
    const card = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 90, g: 120, b: 90 } } }).jpeg().toBuffer();
    const none = await enrol(ana, card);
    expect(none.status, JSON.stringify(none.body)).toBe(422);
    expect(none.body.error).toBe('no_face');
    // two different people side by side
    const a = await sharp(readFileSync(photo('P01'))).resize(320, 320, { fit: 'cover' }).toBuffer();
    const b = await sharp(readFileSync(photo('P02'))).resize(320, 320, { fit: 'cover' }).toBuffer();
    const two = await sharp({ create: { width: 640, height: 320, channels: 3, background: '#000' } })
      .composite([
        { input: a, left: 0, top: 0 },
        { input: b, left: 320, top: 0 },
      ])
      .jpeg()
      .toBuffer();
    const several = await enrol(ana, two);
    expect(several.status, JSON.stringify(several.body)).toBe(422);
    expect(several.body.error).toBe('several_faces');
    const text = await enrol(ana, Buffer.from('not an image at all'), 'x.txt');
    expect(text.status, JSON.stringify(text.body)).toBe(415);
    expect(text.body.error).toBe('unsupported_image');
    const unknown = await enrol('nobody', readFileSync(photo('P01')));
    expect(unknown.status, JSON.stringify(unknown.body)).toBe(404);
    expect(unknown.body.error).toBe('not_found');
    await request(server.url).get('/api/users/nobody/faces').expect(404);
    expect({ rows: rows(ana).length, files: files(ana).length }).toEqual(before);
    expect(existsSync(join(server.dataDir, 'faces', 'nobody'))).toBe(false);
    // with a hint inside one face, the two-face photo enrols that one
    const hinted = await request(server.url).post(`/api/users/${ana}/faces`).field('x', '160').field('y', '160').attach('image', two, 'two.jpg');
    expect(hinted.status, JSON.stringify(hinted.body)).toBe(201);
  });

  it('WS face.enrol enrols from a base64 photo', async () => {
    const ws = new WebSocket(server.wsUrl, WS_SUBPROTOCOL);
    const messages: Record<string, unknown>[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d)) as Record<string, unknown>));
    await new Promise((r) => ws.once('open', r));
    const n = rows(ana).length;
    ws.send(JSON.stringify({ type: 'face.enrol', id: 'e1', userId: ana, image: readFileSync(photo('P01', 'neutral')).toString('base64') }));
    await expect.poll(() => messages.find((m) => m.id === 'e1'), { timeout: 15_000 }).toBeDefined();
    ws.close();
    expect(messages.find((m) => m.id === 'e1')).toMatchObject({ type: 'ack', face: { userId: ana, source: 'enrol' } });
    expect(rows(ana)).toHaveLength(n + 1);
  });

  it('deleting a face removes its row and crop; deleting the user removes every embedding and crop', async () => {
    const [first, ...rest] = rows(ana);
    await request(server.url).delete(`/api/users/${ana}/faces/${first.id}`).expect(204);
    await request(server.url).delete(`/api/users/${ana}/faces/${first.id}`).expect(404);
    expect(rows(ana).map((f) => f.id)).toEqual(rest.map((f) => f.id));
    expect(files(ana)).not.toContain(`${first.id}.png`);
    expect(rest.length).toBeGreaterThan(0);
    await request(server.url).delete(`/api/users/${ana}`).expect(204);
    expect(rows(ana)).toEqual([]);
    expect(existsSync(join(server.dataDir, 'faces', ana))).toBe(false);
    expect(existsSync(join(server.dataDir, 'samples', ana))).toBe(false);
  });
});
