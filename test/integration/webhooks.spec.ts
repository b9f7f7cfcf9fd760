/**
 * Webhook delivery against a real HTTP receiver (node:http on 127.0.0.1:0) with real SQLite: 'expression' events
 * published on the EventBus fire a rule once per matching episode; the body verifies with the receiver snippet
 * documented in docs/INTEGRATIONS.md (read from the file and run); a 500 is retried then recorded as failed; a
 * redirect is not followed; a hanging receiver never slows publishing (bounded queue, drops counted); the destination
 * policy is applied at creation and again at each attempt (DNS can change), connecting to the checked address.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import type { ExpressionEvent } from '../../src/contracts/events';
import { ReplicatedChanges, type ReplicatedRowChange } from '../../src/contracts/ports/replicated-changes';
import type { FaceResult } from '../../src/contracts/faces';
import { LABEL_NAMES, type ScoresByLabel } from '../../src/contracts/labels';
import { DeliveryMetrics } from '../../src/delivery/delivery.metrics';
import type { CameraAccess } from '../../src/delivery/camera-access';
import type { UserDirectoryApi } from '../../src/delivery/delivery.tokens';
import { WEBHOOK_LOG_FLUSH_MS, WebhookDispatcher, WebhookMetrics } from '../../src/delivery/webhooks/webhook.dispatcher';
import { WebhooksService } from '../../src/delivery/webhooks/webhooks.service';
import { RxEventBus } from '../../src/events/rx-event-bus';
import type { HostResolver } from '../../src/ingest/destination-policy';
import { SqliteDatabase } from '../../src/storage/database';
import type { WebhookRecord } from '../../src/storage/ports/webhook.repository';
import { SqliteWebhookRepository } from '../../src/storage/sqlite/webhook.repository';
import { documentedVerify, startWebhookReceiver as receiver } from '../support/webhook-receiver';

function face(trackId: number, happy: number): FaceResult {
  const scores = Object.fromEntries(LABEL_NAMES.map((l) => [l, 0])) as ScoresByLabel;
  scores.happy = happy;
  scores.neutral = 1 - happy;
  return { trackId, box: { x: 1, y: 2, w: 30, h: 30 }, label: happy >= 0.5 ? 'happy' : 'neutral', scores, confidence: 0.9, userId: null, personalized: false };
}
const frame = (ts: number, faces: FaceResult[], cameraId = 'cam1'): ExpressionEvent => ({
  type: 'expression',
  cameraId,
  frameId: ts,
  ts,
  latencyMs: 1,
  width: 100,
  height: 100,
  faces,
});

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Another node's rows arriving (clustered); a single node never emits. */
class FakeReplicatedChanges extends ReplicatedChanges {
  readonly listeners = new Set<(change: ReplicatedRowChange) => void>();
  on(listener: (change: ReplicatedRowChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(change: ReplicatedRowChange): void {
    for (const l of this.listeners) l(change);
  }
}

/** Dispatcher on a fresh database, with a resolver that knows only `names` (no DNS). */
function setup(env: Record<string, string> = {}, names: Record<string, string[]> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'iex-webhooks-'));
  const database = new SqliteDatabase(dir);
  const config = loadConfig({ DATA_DIR: dir, WEBHOOK_BACKOFF_BASE_MS: '20', WEBHOOK_BACKOFF_MAX_MS: '100', ...env });
  const bus = new RxEventBus();
  const repo = new SqliteWebhookRepository(database);
  const delivery = new DeliveryMetrics();
  const metrics = new WebhookMetrics(delivery);
  const resolver: HostResolver = { lookup: async (h) => names[h] ?? [] };
  const replicated = new FakeReplicatedChanges();
  const dispatcher = new WebhookDispatcher(config, bus, repo, metrics, resolver, replicated);
  dispatcher.onModuleInit();
  // What the REST routes use (the camera and user checks are not exercised here).
  const service = new WebhooksService(repo, dispatcher, {} as CameraAccess, {} as UserDirectoryApi);
  cleanups.push(() => {
    dispatcher.onModuleDestroy();
    database.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const newRule = (over: Partial<WebhookRecord>): WebhookRecord => ({
      id: `rule-${Math.random().toString(36).slice(2)}`,
      url: 'http://127.0.0.1:1/',
      cameraId: null,
      userId: null,
      label: 'happy',
      minScore: 0.7,
      minDurationMs: 1000,
      cooldownMs: 0,
      secret: 'whsec_test-secret',
      enabled: true,
      createdAt: Date.now(),
      ...over,
  });
  const addRule = (over: Partial<WebhookRecord>): WebhookRecord => {
    const r = newRule(over);
    repo.insert(r);
    dispatcher.reload();
    return r;
  };
  return { bus, repo, dispatcher, metrics, delivery, addRule, newRule, names, service, replicated };
}

describe('webhooks: real receiver, real SQLite', () => {
  it('fires once per matching episode, and every delivery verifies with the documented snippet', async () => {
    const hook = await receiver((_r, _n, res) => void res.writeHead(204).end());
    cleanups.push(hook.close);
    const { bus, repo, dispatcher, addRule } = setup();
    const rule = addRule({ url: hook.url, minDurationMs: 1000 });

    // episode 1: happy 0.9 for 3 s (frames every 100 ms); a dip; episode 2: 1.5 s; then a too-short episode 3 (0.5 s)
    const t0 = Date.now() - 60_000;
    for (let t = 0; t <= 3000; t += 100) bus.publish('expression', frame(t0 + t, [face(1, 0.9)]));
    bus.publish('expression', frame(t0 + 3100, [face(1, 0.3)]));
    for (let t = 3200; t <= 4700; t += 100) bus.publish('expression', frame(t0 + t, [face(1, 0.9)]));
    bus.publish('expression', frame(t0 + 4800, []));
    for (let t = 4900; t <= 5400; t += 100) bus.publish('expression', frame(t0 + t, [face(1, 0.95)]));
    await dispatcher.whenIdle();

    expect(hook.got).toHaveLength(2);
    const verify = documentedVerify();
    const seen = new Set<string>();
    const bodies = hook.got.map((r) => verify(rule.secret, r.headers, r.raw, seen));
    expect(bodies.map((b) => b.ts - t0)).toEqual([1000, 4200]);
    expect(bodies[0]).toMatchObject({
      rule: { id: rule.id, label: 'happy', minScore: 0.7, minDurationMs: 1000 },
      event: { cameraId: 'cam1', trackId: 1, userId: null, label: 'happy', score: 0.9, durationMs: 1000 },
    });
    expect(bodies[0].id).toBe(hook.got[0].headers['x-iexpressionnet-delivery']);
    // The body is assembled from JSON made once per rule and once per firing: byte for byte a WebhookBody's JSON.
    const b = bodies[0];
    const r = b.rule;
    const e = b.event;
    expect(hook.got[0].raw.toString()).toBe(
      JSON.stringify({
        id: b.id,
        ts: b.ts,
        rule: { id: r.id, cameraId: r.cameraId, userId: r.userId, label: r.label, minScore: r.minScore, minDurationMs: r.minDurationMs },
        event: { cameraId: e.cameraId, trackId: e.trackId, userId: e.userId, label: e.label, score: e.score, durationMs: e.durationMs },
      }),
    );
    expect(hook.got[0].headers['x-iexpressionnet-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);

    // the snippet refuses a replay, a wrong secret, a tampered body and an old timestamp
    expect(() => verify(rule.secret, hook.got[0].headers, hook.got[0].raw, seen)).toThrow(/already seen/);
    expect(() => verify('whsec_other', hook.got[0].headers, hook.got[0].raw, new Set())).toThrow(/bad signature/);
    const tampered = Buffer.from(hook.got[0].raw.toString().replace('"score":0.9', '"score":1'));
    expect(() => verify(rule.secret, hook.got[0].headers, tampered, new Set())).toThrow(/bad signature/);
    expect(() => verify(rule.secret, hook.got[0].headers, hook.got[0].raw, new Set(), -1)).toThrow(/too old/);

    const log = repo.deliveries(rule.id, 10);
    expect(log.map((d) => [d.status, d.attempts, d.responseStatus])).toEqual([
      ['delivered', 1, 204],
      ['delivered', 1, 204],
    ]);
    expect(new Set(log.map((d) => d.id))).toEqual(new Set(bodies.map((b) => b.id)));
  });

  it('a failing receiver (500) gets retries with backoff, then the delivery is recorded as failed', async () => {
    const hook = await receiver((_r, _n, res) => void res.writeHead(500).end('boom'));
    cleanups.push(hook.close);
    const { bus, repo, dispatcher, addRule, delivery } = setup({ WEBHOOK_MAX_ATTEMPTS: '4', WEBHOOK_BACKOFF_BASE_MS: '50', WEBHOOK_BACKOFF_MAX_MS: '1000' });
    const rule = addRule({ url: hook.url, minDurationMs: 0 });
    bus.publish('expression', frame(Date.now(), [face(1, 0.9)]));
    await dispatcher.whenIdle();

    expect(hook.got).toHaveLength(4);
    expect(new Set(hook.got.map((r) => r.headers['x-iexpressionnet-delivery'])).size).toBe(1);
    // exponential: waits of ≥ 50, 100, 200 ms between attempts (lower bounds only: the machine may be slower)
    const gaps = hook.got.slice(1).map((r, i) => r.at - hook.got[i].at);
    gaps.forEach((g, i) => expect(g).toBeGreaterThanOrEqual(50 * 2 ** i - 5));
    const [d] = repo.deliveries(rule.id, 10);
    expect(d).toMatchObject({ status: 'failed', attempts: 4, responseStatus: 500, lastError: 'HTTP 500' });
    const text = await delivery.registry.metrics();
    expect(text).toMatch(/iexpr_webhook_attempts_total\{result="http_error"\} 4/);
    expect(text).toMatch(/iexpr_webhook_deliveries_total\{outcome="failed"\} 1/);
  });

  it('a receiver that recovers: retried until it answers 2xx', async () => {
    const hook = await receiver((_r, n, res) => void res.writeHead(n < 3 ? 503 : 200).end());
    cleanups.push(hook.close);
    const { bus, repo, dispatcher, addRule } = setup();
    const rule = addRule({ url: hook.url, minDurationMs: 0 });
    bus.publish('expression', frame(Date.now(), [face(1, 0.9)]));
    await dispatcher.whenIdle();
    expect(hook.got).toHaveLength(3);
    expect(repo.deliveries(rule.id, 10)[0]).toMatchObject({ status: 'delivered', attempts: 3, responseStatus: 200, lastError: null });
  });

  it('a redirect is not followed and not retried', async () => {
    const hook = await receiver((_r, _n, res) => void res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end());
    cleanups.push(hook.close);
    const { bus, repo, dispatcher, addRule } = setup();
    const rule = addRule({ url: hook.url, minDurationMs: 0 });
    bus.publish('expression', frame(Date.now(), [face(1, 0.9)]));
    await dispatcher.whenIdle();
    expect(hook.got).toHaveLength(1);
    expect(repo.deliveries(rule.id, 10)[0]).toMatchObject({ status: 'failed', attempts: 1, responseStatus: 302 });
    expect(repo.deliveries(rule.id, 10)[0].lastError).toMatch(/redirects are not followed/);
  });

  it('a hanging receiver never slows publishing: the queue is bounded, drops are counted, requests time out', async () => {
    const hook = await receiver(() => undefined); // never answers
    cleanups.push(hook.close);
    const { bus, repo, dispatcher, addRule, delivery } = setup({
      WEBHOOK_QUEUE_MAX: '5',
      WEBHOOK_CONCURRENCY: '2',
      WEBHOOK_TIMEOUT_MS: '300',
      WEBHOOK_MAX_ATTEMPTS: '1',
    });
    const rule = addRule({ url: hook.url, minDurationMs: 0 });
    // 2,000 frames, each with a new face: every frame fires the rule.
    const started = process.hrtime.bigint();
    for (let i = 0; i < 2000; i++) bus.publish('expression', frame(Date.now(), [face(i + 1, 0.9)]));
    const publishMs = Number(process.hrtime.bigint() - started) / 1e6;
    // Publishing does not wait for the receiver: 2,000 frames in far less than one request timeout per frame.
    expect(publishMs).toBeLessThan(2000 * 300);
    await until('2 requests in flight', () => hook.got.length === 2);
    const text = await delivery.registry.metrics();
    expect(text).toMatch(/iexpr_webhook_dropped_total\{reason="queue_full"\} 1995/);
    await dispatcher.whenIdle();
    expect(hook.got).toHaveLength(5); // concurrency 2, then the rest as slots freed by the timeout
    const log = repo.deliveries(rule.id, 10_000);
    expect(log.filter((d) => d.status === 'failed').map((d) => d.lastError)).toEqual(Array(5).fill('timed out after 300 ms'));
    expect(log).toHaveLength(5); // drops are counted, not logged
  });

  it('the destination policy: a metadata URL is refused at creation, and a name that moves to one is refused at delivery', async () => {
    const hook = await receiver((_r, _n, res) => void res.writeHead(200).end());
    cleanups.push(hook.close);
    const names: Record<string, string[]> = { 'hooks.example': ['127.0.0.1'], 'metadata.example': ['169.254.169.254'] };
    const { bus, repo, dispatcher, addRule } = setup({}, names);
    for (const url of ['http://169.254.169.254/latest', 'http://metadata.google.internal/x', 'http://metadata.example/x', 'http://[fe80::1]/x']) {
      await expect(dispatcher.checkUrl(url), url).rejects.toMatchObject({ code: 'destination_forbidden', message: expect.stringContaining('WEBHOOK_ALLOW_LINK_LOCAL') });
    }
    await expect(dispatcher.checkUrl('ftp://127.0.0.1/')).rejects.toMatchObject({ code: 'invalid_url' });
    await expect(dispatcher.checkUrl('http://u:p@127.0.0.1/')).rejects.toMatchObject({ code: 'invalid_url' });

    // A name the system resolver does not know reaches the receiver: the attempt connects to the checked address.
    const url = `http://hooks.example:${hook.port}/hook`;
    expect(await dispatcher.checkUrl(url)).toMatchObject({ address: '127.0.0.1' });
    const rule = addRule({ url, minDurationMs: 0 });
    bus.publish('expression', frame(Date.now(), [face(1, 0.9)]));
    await dispatcher.whenIdle();
    expect(hook.got).toHaveLength(1);
    expect(hook.got[0].headers.host).toBe(`hooks.example:${hook.port}`);

    // DNS changes to another allowed address where nothing listens: the kept-alive connection to 127.0.0.1 is not reused
    // (connections are pooled per checked address), so this attempt goes to 127.0.0.2 and is refused.
    names['hooks.example'] = ['127.0.0.2'];
    bus.publish('expression', frame(Date.now(), [face(3, 0.9)]));
    await until('the refused attempt', () => repo.deliveries(rule.id, 1)[0]?.lastError?.includes('ECONNREFUSED') || (dispatcher.flushLog(), false));
    expect(hook.got).toHaveLength(1);

    // DNS changes: the same name now resolves to the metadata address; the next delivery is refused, not retried.
    names['hooks.example'] = ['169.254.169.254'];
    bus.publish('expression', frame(Date.now(), [face(2, 0.9)]));
    await dispatcher.whenIdle();
    expect(hook.got).toHaveLength(1);
    const [d] = repo.deliveries(rule.id, 1);
    expect(d).toMatchObject({ status: 'failed', attempts: 1, responseStatus: null });
    expect(d.lastError).toMatch(/resolves to 169\.254\.169\.254.*WEBHOOK_ALLOW_LINK_LOCAL/);
  });

  it('a disabled or deleted rule stops firing; deleting a rule deletes its log', async () => {
    const hook = await receiver((_r, _n, res) => void res.writeHead(200).end());
    cleanups.push(hook.close);
    const { bus, repo, dispatcher, addRule } = setup();
    const rule = addRule({ url: hook.url, minDurationMs: 0 });
    bus.publish('expression', frame(Date.now(), [face(1, 0.9)]));
    await dispatcher.whenIdle();
    expect(hook.got).toHaveLength(1);
    repo.update(rule.id, { enabled: false });
    dispatcher.reload();
    bus.publish('expression', frame(Date.now(), [face(2, 0.9)]));
    await dispatcher.whenIdle();
    expect(hook.got).toHaveLength(1);
    expect(repo.deliveries(rule.id, 10)).toHaveLength(1);
    expect(repo.delete(rule.id)).toBe(true);
    expect(repo.deliveries(rule.id, 10)).toHaveLength(0);
  });

  it('a flood of deliveries writes the log in batches, and a reader of the log sees every change at once', async () => {
    const hook = await receiver((_r, _n, res) => void res.writeHead(204).end());
    cleanups.push(hook.close);
    const { bus, repo, dispatcher, addRule, service } = setup();
    const writes: number[] = [];
    const save = repo.saveDeliveries.bind(repo);
    repo.saveDeliveries = (rows, keep) => {
      writes.push(rows.length);
      save(rows, keep);
    };
    const rule = addRule({ url: hook.url, minDurationMs: 0 });
    const started = Date.now();
    // 60 frames, each with a new face: 60 firings, each pending then delivered (120 log changes)
    for (let i = 0; i < 60; i++) bus.publish('expression', frame(Date.now(), [face(i + 1, 0.9)]));
    await dispatcher.whenIdle();
    expect(hook.got).toHaveLength(60);
    // one transaction per WEBHOOK_LOG_FLUSH_MS that passed, plus whenIdle's: never one per change
    expect(writes.length).toBeLessThanOrEqual(2 + Math.floor((Date.now() - started) / WEBHOOK_LOG_FLUSH_MS));
    const log = service.deliveries(rule.id, 100);
    expect(log.map((d) => d.status)).toEqual(Array(60).fill('delivered'));

    // a delivery still in flight is in the log as soon as anyone reads it, before the batched write is due
    const hang = await receiver(() => undefined);
    cleanups.push(hang.close);
    const slow = addRule({ url: hang.url, minDurationMs: 0 });
    bus.publish('expression', frame(Date.now(), [face(1000, 0.9)]));
    expect(service.deliveries(slow.id, 10).map((d) => [d.status, d.event.trackId])).toEqual([['pending', 1000]]);
  });

  it('rules are read on change, not per firing: a rotated secret signs the next delivery; a rule replicated from another node fires', async () => {
    const hook = await receiver((_r, _n, res) => void res.writeHead(204).end());
    cleanups.push(hook.close);
    const { bus, repo, dispatcher, addRule, newRule, service, replicated } = setup();
    const rule = addRule({ url: hook.url, minDurationMs: 0, cameraId: 'cam1' });
    const { secret } = service.rotateSecret(rule.id);
    expect(secret).not.toBe(rule.secret);
    bus.publish('expression', frame(Date.now(), [face(1, 0.9)]));
    await dispatcher.whenIdle();
    expect(hook.got).toHaveLength(1);
    expect(() => documentedVerify()(secret, hook.got[0].headers, hook.got[0].raw, new Set())).not.toThrow();

    // Clustered: the row arrives in this node's SQLite from another node, and ReplicatedChanges says so.
    const remote = newRule({ url: hook.url, minDurationMs: 0, cameraId: 'cam2' });
    repo.insert(remote);
    bus.publish('expression', frame(Date.now(), [face(2, 0.9)], 'cam2'));
    await dispatcher.whenIdle();
    expect(hook.got).toHaveLength(1); // not seen yet: nothing announced it
    replicated.emit({ table: 'webhooks', key: [remote.id], exists: true });
    bus.publish('expression', frame(Date.now(), [face(3, 0.9)], 'cam2'));
    await dispatcher.whenIdle();
    expect(hook.got).toHaveLength(2);
    expect(JSON.parse(hook.got[1].raw.toString())).toMatchObject({ rule: { id: remote.id }, event: { cameraId: 'cam2', trackId: 3 } });
  });

  it('deliveries to one address share kept-alive connections', async () => {
    const hook = await receiver((_r, _n, res) => void res.writeHead(204).end());
    cleanups.push(hook.close);
    const { bus, dispatcher, addRule } = setup({ WEBHOOK_CONCURRENCY: '1' });
    addRule({ url: hook.url, minDurationMs: 0 });
    for (let i = 0; i < 10; i++) bus.publish('expression', frame(Date.now(), [face(i + 1, 0.9)]));
    await dispatcher.whenIdle();
    expect(hook.got).toHaveLength(10);
    // one request at a time: one connection, unless the receiver closed an idle one in between (it does not here)
    expect(new Set(hook.got.map((r) => r.remotePort)).size).toBe(1);
  });

  it('shutdown cancels the requests in flight at once (a hanging receiver does not hold the server)', async () => {
    let closed = 0;
    const hook = await receiver((_r, _n, res) => void res.on('close', () => closed++));
    cleanups.push(hook.close);
    const { bus, dispatcher, addRule } = setup({ WEBHOOK_TIMEOUT_MS: '60000', WEBHOOK_CONCURRENCY: '2' });
    addRule({ url: hook.url, minDurationMs: 0 });
    bus.publish('expression', frame(Date.now(), [face(1, 0.9), face(2, 0.9)]));
    await until('2 requests in flight', () => hook.got.length === 2);
    dispatcher.onModuleDestroy();
    await until('both connections closed', () => closed === 2, 2000);
  });
});
