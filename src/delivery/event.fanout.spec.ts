import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { RxEventBus } from '../events/rx-event-bus';
import { Connection } from './connection';
import { ConnectionRegistry } from './connection.registry';
import { DeliveryMetrics } from './delivery.metrics';
import { EventFanout } from './event.fanout';

class FakeSocket {
  readyState = 1;
  bufferedAmount = 0;
  sent: string[] = [];
  send(data: string) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
  }
}

const LIMITS = { maxTextBytes: 1e5, maxBinaryBytes: 1e6, maxBufferedBytes: 1e6, messagesPerSec: 10, messageBurst: 10, previewBytesPerSec: 1e5 };

/** The gateway's side of the bus, with in-memory sockets: who gets which event. */
function setup() {
  const bus = new RxEventBus();
  const metrics = new DeliveryMetrics();
  const registry = new ConnectionRegistry();
  const fanout = new EventFanout(registry, metrics, bus);
  fanout.onModuleInit();
  const connect = (opts: { authenticated: boolean; cameras?: '*' | string[] }) => {
    const socket = new FakeSocket();
    const c = new Connection(socket as unknown as WebSocket, LIMITS, metrics, '127.0.0.1');
    if (opts.authenticated) c.principal = { scope: 'read', name: 'env:read' };
    if (opts.cameras) c.events.add(opts.cameras);
    registry.add(c);
    return { c, types: () => socket.sent.map((s) => (JSON.parse(s) as { type: string }).type), socket };
  };
  return { bus, fanout, metrics, connect };
}

describe('EventFanout (EventBus -> sockets)', () => {
  let fanout: EventFanout | undefined;
  afterEach(() => fanout?.onModuleDestroy());

  it('camera events go to authenticated subscribers of that camera; events about no camera to every authenticated client', () => {
    const s = setup();
    fanout = s.fanout;
    const cam1 = s.connect({ authenticated: true, cameras: ['cam1'] });
    const all = s.connect({ authenticated: true, cameras: '*' });
    const none = s.connect({ authenticated: true });
    const anon = s.connect({ authenticated: false, cameras: '*' });
    s.bus.publish('face.enter', { type: 'face.enter', cameraId: 'cam1', trackId: 1, ts: 1, userId: null });
    s.bus.publish('camera.removed', { type: 'camera.removed', cameraId: 'cam2' });
    s.bus.publish('model.updated', {
      type: 'model.updated',
      userId: 'u1',
      version: 1,
      active: true,
      metrics: { generalAccuracy: null, personalAccuracy: null, heldOut: 0, trainSamples: 1, replaySamples: 0, epochs: 1, seconds: 1 },
    });
    s.bus.publish('face.observed', {
      cameraId: 'cam1',
      frameId: 1,
      ts: 1,
      trackId: 1,
      box: { x: 0, y: 0, w: 1, h: 1 },
      region: { x: 0, y: 0, w: 1, h: 1 },
      confidence: 1,
      landmarks: [],
      crop48: new Uint8Array(4),
    });
    expect(cam1.types()).toEqual(['face.enter', 'model.updated']);
    expect(all.types()).toEqual(['face.enter', 'camera.removed', 'model.updated']);
    expect(none.types()).toEqual(['model.updated']);
    expect(anon.types()).toEqual([]);
  });

  it('personalization events: the origin (even unauthenticated) plus subscribers of meta.cameraIds, each once; [] = origin only', () => {
    const s = setup();
    fanout = s.fanout;
    const origin = s.connect({ authenticated: false });
    const watcher = s.connect({ authenticated: true, cameras: ['camA'] });
    const other = s.connect({ authenticated: true, cameras: ['camB'] });
    const authOrigin = s.connect({ authenticated: true, cameras: ['camA'] });
    const prompt = { type: 'calibration.prompt', userId: 'u1', label: 'happy', index: 0, of: 7, style: 'natural', round: 0, rounds: 1, secondsLeft: 3 } as const;
    s.bus.publish('calibration.prompt', prompt, { originId: origin.c.id, cameraIds: ['camA'] });
    s.bus.publish('calibration.prompt', prompt, { originId: authOrigin.c.id, cameraIds: ['camA', 'camB'] });
    s.bus.publish('finetune.failed', { type: 'finetune.failed', userId: 'u1', code: 'conflict', message: 'x' }, { originId: origin.c.id, cameraIds: [] });
    s.bus.publish('finetune.failed', { type: 'finetune.failed', userId: 'u1', code: 'conflict', message: 'x' }, { cameraIds: [] });
    expect(origin.types()).toEqual(['calibration.prompt', 'finetune.failed']);
    expect(watcher.types()).toEqual(['calibration.prompt', 'calibration.prompt']);
    expect(other.types()).toEqual(['calibration.prompt']);
    expect(authOrigin.types()).toEqual(['calibration.prompt', 'calibration.prompt']);
  });

  it('scrubs credentials from camera.status reasons and stamps expression latency at send time', async () => {
    const s = setup();
    fanout = s.fanout;
    const c = s.connect({ authenticated: true, cameras: '*' });
    const status = { type: 'camera.status', cameraId: 'cam1', state: 'failed', reason: 'cannot open rtsp://admin:hunter2@10.0.0.9/s', ts: 5 } as const;
    s.bus.publish('camera.status', status);
    s.bus.publish('expression', { type: 'expression', cameraId: 'cam1', frameId: 1, ts: Date.now() - 50, latencyMs: 0, width: 1, height: 1, faces: [] });
    const [sentStatus, sentExpr] = c.socket.sent.map((j) => JSON.parse(j) as Record<string, unknown>);
    expect(Object.keys(sentStatus)).toEqual(['type', 'cameraId', 'state', 'reason', 'ts']);
    expect(sentStatus.reason).not.toContain('hunter2');
    expect(status.reason).toContain('hunter2'); // the published payload is not modified
    expect(sentExpr.latencyMs).toBeGreaterThanOrEqual(50);
    expect(await s.metrics.registry.getSingleMetricAsString('iexpr_ws_event_latency_ms')).toContain('_count 1');
  });

  it('keeps delivering after an event that fails to serialise, and stops at module destroy', () => {
    const s = setup();
    fanout = undefined;
    const c = s.connect({ authenticated: true, cameras: '*' });
    const cyclic = { type: 'camera.removed', cameraId: 'cam1' } as { type: 'camera.removed'; cameraId: string; self?: unknown };
    cyclic.self = cyclic;
    s.bus.publish('camera.removed', cyclic);
    s.bus.publish('camera.removed', { type: 'camera.removed', cameraId: 'cam2' });
    expect(c.types()).toEqual(['camera.removed']);
    s.fanout.onModuleDestroy();
    expect(s.bus.wants('camera.removed')).toBe(false);
    s.bus.publish('camera.removed', { type: 'camera.removed', cameraId: 'cam3' });
    expect(c.types()).toEqual(['camera.removed']);
  });
});
