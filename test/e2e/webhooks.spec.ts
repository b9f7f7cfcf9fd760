/**
 * Webhooks on the real server (AppModule, listen(0)) with a real receiver on 127.0.0.1:0: REST CRUD with typed 4xx,
 * the secret shown at creation/rotation and never by GET; and with a real looping file camera (d6.mp4, whose face
 * shows mostly `surprise`, 0.3–0.8) a rule fires exactly at the episodes the WebSocket's expression events show, each
 * delivery verifying with the documented snippet; a receiver that never answers does not slow the events.
 */
import { existsSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExpressionEvent } from '../../src/contracts/events';
import { WS_SUBPROTOCOL } from '../../src/contracts/wire';
import { WebhookDispatcher } from '../../src/delivery/webhooks/webhook.dispatcher';
import { RealApp, startRealApp } from '../support/app';
import { D6 } from '../support/paths';
import { requireTool } from '../support/require-tool';
import { TestClient } from '../support/server';
import { documentedVerify, startWebhookReceiver, WebhookReceiver } from '../support/webhook-receiver';

const ADMIN = 'admin-token-webhooks-e2e';
const READ = 'read-token-webhooks-e2e';
const admin = { Authorization: `Bearer ${ADMIN}` };
const hasVideo = existsSync(D6);
const ffmpeg = requireTool('ffmpeg', 'ffmpeg');

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('webhooks on the real server', () => {
  let server: RealApp;
  let ok: WebhookReceiver;

  beforeAll(async () => {
    server = await startRealApp({ ADMIN_TOKEN: ADMIN, READ_TOKEN: READ, WEBHOOK_TIMEOUT_MS: '60000' });
    ok = await startWebhookReceiver((_r, _n, res) => void res.writeHead(204).end());
  }, 60_000);
  afterAll(async () => {
    await ok?.close();
    await server?.close();
  });

  it('REST: created with a secret shown once, never echoed by GET; rotation; typed 4xx; admin only', async () => {
    const created = await request(server.url).post('/api/webhooks').set(admin).send({ url: ok.url, label: 'happy', minScore: 0.7, minDurationMs: 2000 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { id, secret } = created.body as { id: string; secret: string };
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(created.body).toMatchObject({ url: ok.url, label: 'happy', minScore: 0.7, minDurationMs: 2000, cooldownMs: 0, enabled: true, cameraId: null, userId: null });

    const list = await request(server.url).get('/api/webhooks').set(admin);
    const one = await request(server.url).get(`/api/webhooks/${id}`).set(admin);
    const patched = await request(server.url).patch(`/api/webhooks/${id}`).set(admin).send({ cooldownMs: 5000, label: null });
    expect([list.status, one.status, patched.status]).toEqual([200, 200, 200]);
    expect(patched.body).toMatchObject({ id, cooldownMs: 5000, label: null });
    for (const res of [list, one, patched]) {
      expect(res.text).not.toContain(secret);
      expect(res.text).not.toContain('"secret"');
    }

    const rotated = await request(server.url).post(`/api/webhooks/${id}/secret`).set(admin);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(secret);
    expect((await request(server.url).get(`/api/webhooks/${id}`).set(admin)).text).not.toContain(rotated.body.secret);
    expect((await request(server.url).get(`/api/webhooks/${id}/deliveries`).set(admin)).body).toEqual([]);

    const bad = async (body: unknown, status: number, error: string, message?: RegExp) => {
      const res = await request(server.url).post('/api/webhooks').set(admin).send(body as object);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error, JSON.stringify(res.body)).toBe(error);
      if (message) expect(res.body.message).toMatch(message);
    };
    await bad({ url: 'http://169.254.169.254/latest/meta-data/' }, 400, 'destination_forbidden', /WEBHOOK_ALLOW_LINK_LOCAL/);
    await bad({ url: 'http://metadata.google.internal/' }, 400, 'destination_forbidden');
    await bad({ url: 'ftp://127.0.0.1/x' }, 400, 'invalid_url');
    await bad({ url: 'not a url' }, 400, 'invalid_url');
    await bad({ url: 'http://u:p@127.0.0.1/' }, 400, 'invalid_url');
    await bad({ url: ok.url, minScore: 2 }, 400, 'bad_message', /minScore/);
    await bad({ url: ok.url, label: 'joy' }, 400, 'bad_message', /label/);
    await bad({ url: ok.url, cameraId: 'a', userId: 'b' }, 400, 'bad_message', /at most one/);
    await bad({ url: ok.url, secret: 'mine' }, 400, 'bad_message');
    await bad({ url: ok.url, userId: 'nobody' }, 404, 'not_found');
    await bad({ url: ok.url, cameraId: 'nocam' }, 404, 'not_found');
    expect((await request(server.url).get('/api/webhooks/nope').set(admin)).status).toBe(404);
    expect((await request(server.url).get('/api/webhooks/nope/deliveries').set(admin)).status).toBe(404);
    expect((await request(server.url).patch(`/api/webhooks/${id}`).set(admin).send({ url: 'http://[fe80::1]/' })).body.error).toBe('destination_forbidden');

    // read scope may not see or change rules (URLs may carry tokens)
    const read = { Authorization: `Bearer ${READ}` };
    expect((await request(server.url).get('/api/webhooks').set(read)).status).toBe(403);
    expect((await request(server.url).post('/api/webhooks').set(read).send({ url: ok.url })).status).toBe(403);
    expect((await request(server.url).get('/api/webhooks')).status).toBe(401);

    expect((await request(server.url).delete(`/api/webhooks/${id}`).set(admin)).status).toBe(204);
    expect((await request(server.url).get(`/api/webhooks/${id}`).set(admin)).status).toBe(404);
  });

  it.skipIf(!hasVideo || !ffmpeg)(
    'a looping file camera: the rule fires once per matching episode; a hanging receiver does not slow the events',
    async () => {
      const RULE = { label: 'surprise', minScore: 0.45, minDurationMs: 1000 } as const;
      const created = await request(server.url).post('/api/webhooks').set(admin).send({ url: ok.url, ...RULE });
      expect(created.status).toBe(201);
      const rule = created.body as { id: string; secret: string };

      const client = await TestClient.connect(server.wsUrl, { protocols: [WS_SUBPROTOCOL, `bearer.${ADMIN}`] });
      await client.next((m) => m.type === 'hello');
      await client.request({ type: 'subscribe', id: 's', cameras: '*' });
      const events: ExpressionEvent[] = [];
      client.ws.on('message', (data, binary) => {
        if (binary) return;
        const m = JSON.parse(data.toString()) as { type: string };
        if (m.type === 'expression') events.push(m as ExpressionEvent);
      });
      const cam = await request(server.url).post('/api/cameras').set(admin).send({ url: `file://${D6}`, loop: true, fps: 10 });
      expect(cam.status).toBe(201);
      const cameraId = cam.body.id as string;

      await until('a first delivery', () => ok.got.length > 0, 30_000);
      await sleep(8000);

      // Phase 2: a second rule whose receiver never answers (it fires at once: minScore 0 holds on every frame).
      const hang = await startWebhookReceiver(() => undefined);
      const before = events.length;
      await sleep(4000);
      const baseline = events.length - before;
      const slow = await request(server.url).post('/api/webhooks').set(admin).send({ url: hang.url, label: 'surprise', minScore: 0, cameraId });
      expect(slow.status).toBe(201);
      await until('the hanging request', () => hang.got.length === 1);
      const during0 = events.length;
      await sleep(4000);
      const during = events.length - during0;
      expect(hang.got).toHaveLength(1); // still hanging: the 60 s timeout has not passed
      expect(during, `expression events in 4 s: ${baseline} before, ${during} while the receiver hangs`).toBeGreaterThanOrEqual(Math.floor(baseline * 0.5));

      expect((await request(server.url).delete(`/api/cameras/${cameraId}`).set(admin)).status).toBe(204);
      await sleep(1000); // the last events of the removed camera reach the client
      await request(server.url).delete(`/api/webhooks/${slow.body.id}`).set(admin);
      await hang.close();
      const dispatcher = server.app.get(WebhookDispatcher);
      await dispatcher.whenIdle();
      client.close();

      // The episodes the events show, by the documented rule: per track, a run of consecutive frames of the camera
      // with the track present and surprise >= 0.45 fires once, when it has lasted 1000 ms.
      const expected: { ts: number; trackId: number }[] = [];
      const runs = new Map<number, { since: number; fired: boolean }>();
      for (const e of events.filter((x) => x.cameraId === cameraId)) {
        const present = new Set<number>();
        for (const f of e.faces) {
          if (f.scores.surprise < RULE.minScore) continue;
          present.add(f.trackId);
          const run = runs.get(f.trackId) ?? { since: e.ts, fired: false };
          runs.set(f.trackId, run);
          if (!run.fired && e.ts - run.since >= RULE.minDurationMs) {
            run.fired = true;
            expected.push({ ts: e.ts, trackId: f.trackId });
          }
        }
        for (const t of [...runs.keys()]) if (!present.has(t)) runs.delete(t);
      }
      const verify = documentedVerify();
      const seen = new Set<string>();
      const bodies = ok.got.map((r) => verify(rule.secret, r.headers, r.raw, seen));
      expect(expected.length, 'd6 should show several surprise episodes').toBeGreaterThanOrEqual(1);
      expect(bodies.map((b) => ({ ts: b.ts, trackId: b.event.trackId }))).toEqual(expected);
      for (const b of bodies) {
        expect(b.rule.id).toBe(rule.id);
        expect(b.event).toMatchObject({ cameraId, label: 'surprise' });
        expect(b.event.score).toBeGreaterThanOrEqual(RULE.minScore);
        expect(b.event.durationMs).toBeGreaterThanOrEqual(RULE.minDurationMs);
      }
      const log = await request(server.url).get(`/api/webhooks/${rule.id}/deliveries`).set(admin);
      expect(log.body.map((d: { status: string }) => d.status)).toEqual(bodies.map(() => 'delivered'));
      expect(new Set(log.body.map((d: { id: string }) => d.id))).toEqual(new Set(bodies.map((b) => b.id)));
    },
    90_000,
  );
});
