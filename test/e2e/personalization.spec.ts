/**
 * Personalization end to end on the real server (AppModule, listen(0)), a real WS client and a face video:
 * user → camera.bind → calibration.start → finetune.start → personalized expression events → rollback to general.
 * Also the typed errors: unknown user/camera, a camera with no face, too few samples.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../src/contracts/messages';
import { startRealApp, RealApp } from '../support/app';
import { D0, D6, MODELS } from '../support/paths';
import { Received, TestClient } from '../support/server';

const VIDEO = D6;
const SECOND = D0;
const ready = existsSync(VIDEO) && existsSync(join(MODELS, 'general', 'head-train-step.onnx'));
if (!ready) {
  const why = `${VIDEO} or models/general/head-train-step.onnx is missing (face videos live in ../shared/videos)`;
  if (process.env.CI === 'true') throw new Error(`${why} (required when CI=true)`);
  console.warn(`skipping: ${why}`);
}

type Msg<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;
const is = <T extends ServerMessage['type']>(type: T, pred: (m: Msg<T>) => boolean = () => true) => (m: Received) =>
  m.type === type && pred(m as Msg<T>);

describe.skipIf(!ready)('personalization end to end (real app, d6.mp4)', () => {
  let server: RealApp;
  let ws: TestClient;
  let blank: string;
  let twoFaces: string;
  let tmp: string;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'iex-pz-'));
    blank = join(tmp, 'testsrc.mp4');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=10', '-t', '3', '-pix_fmt', 'yuv420p', blank]);
    // two people side by side: d6 and d0, 320x320 each
    twoFaces = join(tmp, 'two-faces.mp4');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', VIDEO, '-i', SECOND, '-filter_complex',
      '[0:v]scale=320:320[a];[1:v]scale=320:320[b];[a][b]hstack=inputs=2', '-t', '3', '-r', '10', '-pix_fmt', 'yuv420p', twoFaces]);
    server = await startRealApp({ HOST: '127.0.0.1', BATCH_SIZE: '4' });
    ws = await TestClient.connect(server.wsUrl);
  });
  afterAll(async () => {
    ws?.close();
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
    if (server) rmSync(server.dataDir, { recursive: true, force: true });
  });

  it('calibrates, fine-tunes, serves the personal head live, and rolls back', async () => {
    const cam = await ws.request<Msg<'ack'>>({ type: 'camera.add', id: 'c1', url: `file://${VIDEO}`, loop: true, fps: 10, name: 'd6' });
    expect(cam.type).toBe('ack');
    const cameraId = (cam.camera as { id: string }).id;
    await ws.request({ type: 'subscribe', id: 's1', cameras: [cameraId] });
    // the stream is up and a face is in view before calibrating
    await ws.next(is('expression', (e) => e.cameraId === cameraId && e.faces.length === 1), 30_000);

    const created = await ws.request<Msg<'ack'>>({ type: 'user.create', id: 'u1', name: 'Dee' });
    const userId = (created.user as { id: string }).id;
    expect((await ws.request({ type: 'camera.bind', id: 'b1', cameraId, userId })).type).toBe('ack');
    const unknown = await ws.request<Msg<'error'>>({ type: 'camera.bind', id: 'b2', cameraId, userId: 'nobody' });
    expect(unknown).toMatchObject({ type: 'error', code: 'not_found' });

    // before any fine-tune the bound user's faces carry the id but the general head scored them
    const general = await ws.next<Msg<'expression'>>(is('expression', (e) => e.cameraId === cameraId && e.faces.length > 0), 10_000);
    expect(general.faces[0]).toMatchObject({ userId, personalized: false });

    const tooFew = await ws.request<Msg<'error'>>({ type: 'finetune.start', id: 'f0', userId });
    expect(tooFew).toMatchObject({ code: 'too_few_samples' });
    expect(tooFew.message).toMatch(/angry: 0/);

    const started = await ws.request<Msg<'ack'>>({ type: 'calibration.start', id: 'cal', userId, cameraId, secondsPerLabel: 1.5, framesPerLabel: 4 });
    expect(started).toMatchObject({ type: 'ack', labels: ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'], styles: ['natural'] });
    const captured = await ws.next<Msg<'calibration.captured'>>(is('calibration.captured', (m) => m.userId === userId), 30_000);
    const prompts = ws.received.filter((m) => m.type === 'calibration.prompt') as Msg<'calibration.prompt'>[];
    expect(prompts.map((p) => p.label)).toEqual(expect.arrayContaining(['angry', 'neutral']));
    expect(prompts.find((p) => p.label === 'angry')).toMatchObject({ index: 0, of: 7, style: 'natural', round: 0, rounds: 1, secondsLeft: 2 });
    const accepted = ws.received.filter((m) => m.type === 'calibration.sample' && m.status === 'accepted');
    for (const label of ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const) {
      expect(captured.counts[label], label).toBeGreaterThanOrEqual(1);
    }
    expect(accepted.length).toBe(Object.values(captured.counts).reduce((a, b) => a + (b ?? 0), 0));
    const users = (await request(server.url).get('/api/users').expect(200)).body as { id: string; samples: Record<string, number> }[];
    expect(users.find((u) => u.id === userId)?.samples).toEqual(captured.counts);

    const ft = await ws.request<Msg<'ack'>>({ type: 'finetune.start', id: 'f1', userId, epochs: 3 });
    expect(ft).toMatchObject({ type: 'ack', userId });
    const progress = await ws.next<Msg<'finetune.progress'>>(is('finetune.progress', (m) => m.userId === userId), 60_000);
    expect(progress).toMatchObject({ epoch: 1, of: 3 });
    const updated = await ws.next<Msg<'model.updated'>>(is('model.updated', (m) => m.userId === userId), 120_000);
    expect(updated).toMatchObject({ version: 1, active: true });
    expect(updated.metrics.trainSamples).toBeGreaterThan(0);
    // the same job over REST: done, with the version that is now active
    const jobId = (ft as unknown as { jobId: string }).jobId;
    const job = (await request(server.url).get(`/api/users/${userId}/finetune/${jobId}`).expect(200)).body as Record<string, unknown>;
    expect(job).toMatchObject({ id: jobId, userId, state: 'done', progress: { of: 3 }, result: { version: 1, active: true }, error: null });

    // expression events from now on: the user's head, without a restart
    ws.received.length = 0;
    const personal = await ws.next<Msg<'expression'>>(is('expression', (e) => e.cameraId === cameraId && e.faces.some((f) => f.personalized)), 15_000);
    expect(personal.faces[0]).toMatchObject({ userId, personalized: true });
    const models = (await request(server.url).get(`/api/users/${userId}/models`).expect(200)).body as { version: number; active: boolean }[];
    expect(models).toEqual([expect.objectContaining({ version: 1, active: true, metrics: expect.any(Object) })]);
    const onnx = await request(server.url).get(`/api/users/${userId}/models/1/onnx`).buffer(true).expect(200);
    expect(onnx.headers['content-type']).toMatch(/octet-stream/);
    expect((onnx.body as Buffer).length).toBeGreaterThan(100_000);

    // rollback to the general model
    expect(await ws.request({ type: 'model.activate', id: 'a0', userId, version: 0 })).toMatchObject({ type: 'ack', version: 0 });
    ws.received.length = 0;
    const back = await ws.next<Msg<'expression'>>(is('expression', (e) => e.cameraId === cameraId && e.faces.length > 0), 10_000);
    expect(back.faces[0]).toMatchObject({ userId, personalized: false });
    expect(await ws.request({ type: 'model.activate', id: 'a9', userId, version: 9 })).toMatchObject({ type: 'error', code: 'not_found' });
    // the next tests start from a quiet server: a camera left streaming (and recognising its face) loads the machine
    expect(await ws.request({ type: 'camera.remove', id: 'r1', cameraId })).toMatchObject({ type: 'ack' });
  }, 240_000);

  it('a camera with no face: calibration rejects no_face and captures nothing; unknown user/camera: not_found', async () => {
    const cam = await ws.request<Msg<'ack'>>({ type: 'camera.add', id: 'c2', url: `file://${blank}`, loop: true, fps: 10, name: 'blank' });
    const cameraId = (cam.camera as { id: string }).id;
    const userId = ((await ws.request<Msg<'ack'>>({ type: 'user.create', id: 'u2', name: 'Nobody' })).user as { id: string }).id;
    expect(await ws.request({ type: 'calibration.start', id: 'x1', userId: 'ghost', cameraId })).toMatchObject({ type: 'error', code: 'not_found' });
    expect(await ws.request({ type: 'calibration.start', id: 'x2', userId, cameraId: 'ghost' })).toMatchObject({ type: 'error', code: 'not_found' });
    await ws.request({ type: 'calibration.start', id: 'x3', userId, cameraId, labels: ['happy'], secondsPerLabel: 2 });
    expect(await ws.request({ type: 'calibration.start', id: 'x4', userId, cameraId })).toMatchObject({ type: 'error', code: 'busy' });
    const rejected = await ws.next<Msg<'calibration.sample'>>(is('calibration.sample', (m) => m.userId === userId), 5_000);
    expect(rejected).toMatchObject({ status: 'rejected', reason: 'no_face', label: 'happy', count: 0 });
    const captured = await ws.next<Msg<'calibration.captured'>>(is('calibration.captured', (m) => m.userId === userId), 10_000);
    expect(captured.counts).toEqual({ happy: 0 });
    expect(ws.received.some((m) => m.type === 'calibration.sample' && m.userId === userId && m.status === 'accepted')).toBe(false);
    // user.delete removes the user; later commands for it are not_found
    expect(await ws.request({ type: 'user.delete', id: 'd1', userId })).toMatchObject({ type: 'ack' });
    expect(await ws.request({ type: 'finetune.start', id: 'd2', userId })).toMatchObject({ type: 'error', code: 'not_found' });
    expect(await ws.request({ type: 'camera.remove', id: 'r2', cameraId })).toMatchObject({ type: 'ack' });
  }, 60_000);

  it('a camera with several unassigned faces: calibration rejects several_faces; assigning the track fixes it', async () => {
    const cam = await ws.request<Msg<'ack'>>({ type: 'camera.add', id: 'c3', url: `file://${twoFaces}`, loop: true, fps: 10, name: 'two' });
    const cameraId = (cam.camera as { id: string }).id;
    const userId = ((await ws.request<Msg<'ack'>>({ type: 'user.create', id: 'u3', name: 'Crowd' })).user as { id: string }).id;
    await ws.request({ type: 'subscribe', id: 's3', cameras: [cameraId] });
    const two = await ws.next<Msg<'expression'>>(is('expression', (e) => e.cameraId === cameraId && e.faces.length === 2), 10_000);
    await ws.request({ type: 'calibration.start', id: 'y1', userId, cameraId, labels: ['happy'], secondsPerLabel: 1.5 });
    const rejected = await ws.next<Msg<'calibration.sample'>>(is('calibration.sample', (m) => m.userId === userId), 5_000);
    expect(rejected).toMatchObject({ status: 'rejected', reason: 'several_faces', label: 'happy' });
    expect((await ws.next<Msg<'calibration.captured'>>(is('calibration.captured', (m) => m.userId === userId), 10_000)).counts).toEqual({ happy: 0 });
    // the left face is the user's: assign its track, calibrate again, samples are accepted
    const left = two.faces.reduce((a, b) => (a.box.x < b.box.x ? a : b));
    expect(await ws.request({ type: 'track.assign', id: 'y2', cameraId, trackId: left.trackId, userId })).toMatchObject({ type: 'ack' });
    ws.received.length = 0;
    await ws.request({ type: 'calibration.start', id: 'y3', userId, cameraId, labels: ['happy'], secondsPerLabel: 1.5 });
    const accepted = await ws.next<Msg<'calibration.sample'>>(is('calibration.sample', (m) => m.userId === userId && m.status === 'accepted'), 5_000);
    expect(accepted.label).toBe('happy');
    await ws.next(is('calibration.captured', (m) => m.userId === userId), 10_000);
    await ws.request({ type: 'camera.remove', id: 'y4', cameraId });
  }, 60_000);

  it('rounds: every label once per style, in order; counts add up over the rounds; bad styles are refused', async () => {
    const cam = await ws.request<Msg<'ack'>>({ type: 'camera.add', id: 'c4', url: `file://${VIDEO}`, loop: true, fps: 10, name: 'rounds' });
    const cameraId = (cam.camera as { id: string }).id;
    const userId = ((await ws.request<Msg<'ack'>>({ type: 'user.create', id: 'u4', name: 'Rounds' })).user as { id: string }).id;
    expect(await ws.request({ type: 'camera.bind', id: 'z0', cameraId, userId })).toMatchObject({ type: 'ack' });
    await ws.request({ type: 'subscribe', id: 's4', cameras: [cameraId] });
    await ws.next(is('expression', (e) => e.cameraId === cameraId && e.faces.length === 1), 30_000);
    const bad = await ws.request<Msg<'error'>>({ type: 'calibration.start', id: 'z1', userId, cameraId, styles: ['loud'] } as never);
    expect(bad).toMatchObject({ type: 'error', code: 'bad_message' });
    expect(await ws.request({ type: 'calibration.start', id: 'z2', userId, cameraId, styles: [] })).toMatchObject({ type: 'error', code: 'bad_message' });
    ws.received.length = 0;
    const plan = await ws.request<Msg<'ack'>>({
      type: 'calibration.start',
      id: 'z3',
      userId,
      cameraId,
      labels: ['happy', 'neutral'],
      styles: ['strong', 'subtle', 'strong'],
      secondsPerLabel: 1.5,
      framesPerLabel: 2,
    });
    expect(plan).toMatchObject({ labels: ['happy', 'neutral'], styles: ['strong', 'subtle'], framesPerLabel: 2 });
    const captured = await ws.next<Msg<'calibration.captured'>>(is('calibration.captured', (m) => m.userId === userId), 30_000);
    const prompts = ws.received.filter((m) => m.type === 'calibration.prompt' && m.userId === userId) as Msg<'calibration.prompt'>[];
    // the first prompt of each window, in the order the session walked them
    const windows = prompts.filter((p, i) => i === 0 || p.label !== prompts[i - 1].label || p.round !== prompts[i - 1].round);
    expect(windows.map((p) => [p.style, p.round, p.rounds, p.label, p.index, p.of])).toEqual([
      ['strong', 0, 2, 'happy', 0, 2],
      ['strong', 0, 2, 'neutral', 1, 2],
      ['subtle', 1, 2, 'happy', 0, 2],
      ['subtle', 1, 2, 'neutral', 1, 2],
    ]);
    const accepted = ws.received.filter((m) => m.type === 'calibration.sample' && m.userId === userId && m.status === 'accepted') as Msg<'calibration.sample'>[];
    for (const label of ['happy', 'neutral'] as const) {
      const mine = accepted.filter((m) => m.label === label);
      // framesPerLabel bounds each round's window, and `count` runs on over the rounds
      expect(mine.length, label).toBe(captured.counts[label]);
      expect(captured.counts[label], label).toBeGreaterThanOrEqual(1);
      expect(captured.counts[label], label).toBeLessThanOrEqual(4);
      expect(mine.map((m) => m.count)).toEqual(mine.map((_, i) => i + 1));
    }
    const users = (await request(server.url).get('/api/users').expect(200)).body as { id: string; samples: Record<string, number> }[];
    expect(users.find((u) => u.id === userId)?.samples).toEqual(captured.counts);
    expect(await ws.request({ type: 'camera.remove', id: 'z4', cameraId })).toMatchObject({ type: 'ack' });
  }, 60_000);

  it('REST samples: a labelled photo is face-detected and stored; bad input gets typed 4xx errors and stores nothing', async () => {
    const http = request(server.url);
    const user = (await http.post('/api/users').send({ name: 'Photo' }).expect(201)).body as { id: string };
    const frame = execFileSync('ffmpeg', ['-v', 'error', '-ss', '1', '-i', VIDEO, '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'mjpeg', '-']);
    const upload = (id: string, image: Buffer, fields: Record<string, string> = { label: 'happy' }, name = 'face.jpg') => {
      const r = http.post(`/api/users/${id}/samples`);
      for (const [k, v] of Object.entries(fields)) r.field(k, v);
      return r.attach('image', image, name);
    };
    const bad = async (res: request.Response, status: number, code: string) => {
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(res.body.error).toBe(code);
    };
    await bad(await upload(user.id, Buffer.from('definitely not an image'), { label: 'happy' }, 'x.txt'), 415, 'unsupported_image');
    await bad(await upload(user.id, Buffer.alloc(11 * 1024 * 1024, 7)), 413, 'too_large');
    // decompression bomb: a few KB of PNG that would decode to 10,000 x 10,000 pixels
    const bomb = await sharp({ create: { width: 10_000, height: 10_000, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png({ compressionLevel: 9 }).toBuffer();
    expect(bomb.length).toBeLessThan(1024 * 1024);
    await bad(await upload(user.id, bomb), 413, 'too_large');
    const gray = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 90, g: 120, b: 90 } } }).jpeg().toBuffer();
    await bad(await upload(user.id, gray), 422, 'no_face');
    const twoFaces = await sharp(frame).extend({ right: 480, background: 'black' }).composite([{ input: frame, left: 480, top: 0 }]).jpeg().toBuffer();
    await bad(await upload(user.id, twoFaces), 422, 'several_faces');
    await bad(await upload(user.id, frame, { label: 'grumpy' }), 400, 'bad_message');
    await bad(await upload('ghost', frame), 404, 'not_found');
    expect((await http.get(`/api/users/${user.id}`).expect(200)).body.samples).toEqual({});
    expect(existsSync(join(server.dataDir, 'samples', user.id)) ? readdirSync(join(server.dataDir, 'samples', user.id)) : []).toEqual([]);

    // path traversal: an uploaded file name is never used for storage, and ids that name paths are refused
    await upload(user.id, frame, { label: 'happy' }, '../../../evil.jpg').expect(201);
    expect(readdirSync(join(server.dataDir, 'samples', user.id)).every((f) => /^s[0-9a-z]+\.png$/.test(f))).toBe(true);
    expect(existsSync(join(server.dataDir, '..', 'evil.jpg'))).toBe(false);
    expect([400, 404]).toContain((await upload('..%2F..%2Fetc', frame)).status);
    const before = readdirSync(join(server.dataDir, 'samples', user.id)).length;

    const ok = await upload(user.id, frame).expect(201);
    expect(ok.body).toMatchObject({ userId: user.id, label: 'happy', source: 'upload', counts: { happy: 2 } });
    expect(ok.body.box.w).toBeGreaterThan(48);
    // several faces and a hint inside the right-hand one
    const cx = 480 + ok.body.box.x + ok.body.box.w / 2;
    const cy = ok.body.box.y + ok.body.box.h / 2;
    const hinted = await upload(user.id, twoFaces, { label: 'sad', x: String(cx), y: String(cy) }).expect(201);
    expect(hinted.body.box.x).toBeGreaterThan(480);
    expect(readdirSync(join(server.dataDir, 'samples', user.id))).toHaveLength(before + 2);
    await bad(await http.post(`/api/users/${user.id}/finetune`).send({}), 422, 'too_few_samples');
    await bad(await http.get(`/api/users/${user.id}/finetune/ft000000000000`), 404, 'not_found');
    await http.delete(`/api/users/${user.id}`).expect(204);
    expect(existsSync(join(server.dataDir, 'samples', user.id))).toBe(false);
    await http.get(`/api/users/${user.id}/models`).expect(404);
  }, 60_000);
});
