import { Subscription } from 'rxjs';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { EventMap, EventMeta, EventName, subjectOf } from '../contracts/events';
import { Envelope, EventBus } from './event-bus';
import { RxEventBus } from './rx-event-bus';

/** One realistic payload per EventMap entry. The mapped type makes tsc fail when an entry is added without a sample. */
const SAMPLES: { [K in EventName]: EventMap[K] } = {
  expression: {
    type: 'expression',
    cameraId: 'cam1',
    frameId: 42,
    ts: 1_700_000_000_000,
    latencyMs: 0,
    width: 640,
    height: 480,
    faces: [
      {
        trackId: 3,
        box: { x: 10, y: 20, w: 64, h: 64 },
        label: 'happy',
        confidence: 0.9,
        scores: { angry: 0.01, disgust: 0.01, fear: 0.01, happy: 0.9, sad: 0.02, surprise: 0.03, neutral: 0.02 },
        userId: null,
        personalized: false,
      },
    ],
  },
  'face.enter': { type: 'face.enter', cameraId: 'cam1', trackId: 3, ts: 1_700_000_000_000, userId: 'u1' },
  'face.leave': { type: 'face.leave', cameraId: 'cam1', trackId: 3, ts: 1_700_000_000_500, userId: null },
  'identity.changed': {
    type: 'identity.changed',
    cameraId: 'cam1',
    trackId: 3,
    ts: 1_700_000_000_400,
    userId: 'u1',
    previousUserId: null,
    identity: { source: 'face', distance: 0.12, margin: 0.6 },
  },
  'camera.status': { type: 'camera.status', cameraId: 'cam1', state: 'streaming', fps: 9.5, ts: 1_700_000_000_000 },
  'camera.removed': { type: 'camera.removed', cameraId: 'cam1' },
  'calibration.prompt': { type: 'calibration.prompt', userId: 'u1', label: 'sad', index: 4, of: 7, style: 'strong', round: 1, rounds: 2, secondsLeft: 3 },
  'calibration.sample': {
    type: 'calibration.sample',
    userId: 'u1',
    label: 'sad',
    status: 'rejected',
    reason: 'blurred',
    count: 2,
  },
  'calibration.captured': { type: 'calibration.captured', userId: 'u1', counts: { happy: 10, sad: 9 } },
  'finetune.progress': {
    type: 'finetune.progress',
    userId: 'u1',
    epoch: 2,
    of: 20,
    loss: 0.7,
    accuracy: 0.6,
    etaSeconds: 12,
  },
  'finetune.failed': { type: 'finetune.failed', userId: 'u1', code: 'conflict', message: 'cancelled' },
  'model.updated': {
    type: 'model.updated',
    userId: 'u1',
    version: 2,
    active: true,
    metrics: {
      generalAccuracy: 0.5,
      personalAccuracy: null,
      heldOut: 7,
      trainSamples: 63,
      replaySamples: 200,
      epochs: 20,
      seconds: 4.5,
    },
  },
  'face.observed': {
    cameraId: 'cam1',
    frameId: 42,
    ts: 1_700_000_000_000,
    trackId: 3,
    box: { x: 10, y: 20, w: 64, h: 64 },
    region: { x: 4, y: 14, w: 76, h: 76 },
    confidence: 0.93,
    landmarks: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    crop48: new Uint8Array(48 * 48).fill(7),
    cropLarge: { data: new Uint8Array(96 * 96).fill(9), width: 96, height: 96 },
  },
  'gallery.changed': { userId: 'u1' },
  'user.deleted': { userId: 'u1' },
};
const NAMES = Object.keys(SAMPLES) as EventName[];

/**
 * Compile-time half of the round-trip test: every field of every payload type (optional ones included, which a
 * sample may leave out) is plain data. A `Connection`, a function or a Buffer in an EventMap entry fails tsc here.
 */
type Plain<T> = T extends string | number | boolean | null | undefined
  ? true
  : T extends (...args: never[]) => unknown
    ? false
    : T extends Uint8Array
      ? Uint8Array extends T
        ? true
        : false
      : T extends readonly (infer U)[]
        ? Plain<U>
        : T extends object
          ? false extends { [P in keyof T]-?: Plain<T[P]> }[keyof T]
            ? false
            : true
          : false;
const PLAIN: { [K in EventName]: Plain<EventMap[K]> } = Object.fromEntries(NAMES.map((n) => [n, true])) as never;

describe('RxEventBus', () => {
  let subs = new Subscription();
  let bus: EventBus;
  const fresh = () => {
    subs = new Subscription();
    bus = new RxEventBus();
  };
  afterEach(() => subs.unsubscribe());

  it('types on() by name: the payload of each envelope is that name’s EventMap entry', () => {
    fresh();
    expectTypeOf(bus.on('face.enter', 'face.leave')).toEqualTypeOf<
      import('rxjs').Observable<Envelope<'face.enter'> | Envelope<'face.leave'>>
    >();
    const got: string[] = [];
    subs.add(
      bus.on('face.enter', 'camera.removed').subscribe((e) => {
        if (e.name === 'face.enter') {
          expectTypeOf(e.payload).toEqualTypeOf<EventMap['face.enter']>();
          got.push(`${e.name}:${e.payload.trackId}`);
        } else {
          expectTypeOf(e.payload).toEqualTypeOf<EventMap['camera.removed']>();
          got.push(`${e.name}:${e.payload.cameraId}`);
        }
      }),
    );
    bus.publish('face.enter', SAMPLES['face.enter']);
    bus.publish('camera.removed', SAMPLES['camera.removed']);
    bus.publish('face.leave', SAMPLES['face.leave']);
    expect(got).toEqual(['face.enter:3', 'camera.removed:cam1']);
    // @ts-expect-error the payload must match the name
    bus.publish('face.enter', SAMPLES['camera.removed']);
    // @ts-expect-error unknown names do not compile
    expect(() => bus.on('no.such.event')).not.toThrow();
  });

  it('wants(name) is true exactly while someone subscribes to that name', () => {
    fresh();
    expect(bus.wants('face.observed')).toBe(false);
    const a = bus.on('face.observed').subscribe();
    const b = bus.on('face.observed', 'expression').subscribe();
    expect(bus.wants('face.observed')).toBe(true);
    expect(bus.wants('expression')).toBe(true);
    expect(bus.wants('face.enter')).toBe(false);
    a.unsubscribe();
    expect(bus.wants('face.observed')).toBe(true);
    b.unsubscribe();
    expect(bus.wants('face.observed')).toBe(false);
    expect(bus.wants('expression')).toBe(false);
    // on() alone (no subscriber yet) wants nothing
    const lazy = bus.on('face.observed');
    expect(bus.wants('face.observed')).toBe(false);
    subs.add(lazy.subscribe());
    expect(bus.wants('face.observed')).toBe(true);
  });

  it('defaults meta.ts to the publish time and keeps what the publisher gave', () => {
    fresh();
    const metas: EventMeta[] = [];
    subs.add(bus.on('calibration.prompt').subscribe((e) => metas.push(e.meta)));
    const before = Date.now();
    bus.publish('calibration.prompt', SAMPLES['calibration.prompt']);
    const after = Date.now();
    const cameraIds = ['cam1', 'cam2'];
    bus.publish('calibration.prompt', SAMPLES['calibration.prompt'], { originId: 'conn-7', cameraIds, ts: 5, node: 'n1' });
    cameraIds.push('cam3'); // the publisher's array is not shared with subscribers
    bus.publish('calibration.prompt', SAMPLES['calibration.prompt'], { originId: undefined, cameraIds: [] });

    expect(metas[0].ts).toBeGreaterThanOrEqual(before);
    expect(metas[0].ts).toBeLessThanOrEqual(after);
    expect(Object.keys(metas[0])).toEqual(['ts']);
    expect(metas[1]).toEqual({ ts: 5, originId: 'conn-7', cameraIds: ['cam1', 'cam2'], node: 'n1' });
    expect(Object.keys(metas[2]).sort()).toEqual(['cameraIds', 'ts']);
    expect(metas[2].cameraIds).toEqual([]);
  });

  it('delivers synchronously, inside publish(), in publish order across names', () => {
    fresh();
    const log: string[] = [];
    subs.add(bus.on('face.enter', 'expression', 'face.leave', 'camera.removed').subscribe((e) => log.push(`a:${e.name}`)));
    subs.add(bus.on('face.leave').subscribe((e) => log.push(`b:${e.name}`)));
    log.push('publish 1');
    bus.publish('face.enter', SAMPLES['face.enter']);
    log.push('publish 2');
    bus.publish('expression', SAMPLES.expression);
    bus.publish('face.leave', SAMPLES['face.leave']);
    bus.publish('camera.removed', SAMPLES['camera.removed']);
    log.push('done');
    expect(log).toEqual([
      'publish 1',
      'a:face.enter',
      'publish 2',
      'a:expression',
      'a:face.leave',
      'b:face.leave',
      'a:camera.removed',
      'done',
    ]);
  });

  it('emit() publishes a client-facing message under its own type', () => {
    fresh();
    const got: Envelope[] = [];
    subs.add(bus.on('face.leave', 'finetune.failed').subscribe((e) => got.push(e)));
    bus.emit(SAMPLES['face.leave'], { ts: 1 });
    bus.emit(SAMPLES['finetune.failed'], { originId: 'c1', ts: 2 });
    bus.emit(SAMPLES['camera.removed']); // nobody listens
    expect(got).toEqual([
      { name: 'face.leave', payload: SAMPLES['face.leave'], meta: { ts: 1 } },
      { name: 'finetune.failed', payload: SAMPLES['finetune.failed'], meta: { ts: 2, originId: 'c1' } },
    ]);
    // @ts-expect-error face.observed is internal: it has no wire type
    expect(() => bus.emit(SAMPLES['face.observed'])).not.toThrow();
  });

  it('a subscriber publishing from its handler is served in place (same order as nested Subject.next)', () => {
    fresh();
    const log: string[] = [];
    subs.add(
      bus.on('camera.status').subscribe((e) => {
        log.push(`status ${e.payload.state}`);
        if (e.payload.state === 'stopped') bus.publish('camera.removed', { type: 'camera.removed', cameraId: e.payload.cameraId });
      }),
    );
    subs.add(bus.on('camera.removed').subscribe((e) => log.push(`removed ${e.payload.cameraId}`)));
    bus.publish('camera.status', { ...SAMPLES['camera.status'], state: 'stopped' });
    log.push('after');
    expect(log).toEqual(['status stopped', 'removed cam1', 'after']);
  });

  it('stops delivering after unsubscribe, to that subscriber only; on() subscribers get no replay', () => {
    fresh();
    const a: number[] = [];
    const b: number[] = [];
    bus.publish('face.enter', { ...SAMPLES['face.enter'], trackId: 0 }); // nobody listens: dropped
    const subA = bus.on('face.enter').subscribe((e) => a.push(e.payload.trackId));
    subs.add(bus.on('face.enter').subscribe((e) => b.push(e.payload.trackId)));
    bus.publish('face.enter', { ...SAMPLES['face.enter'], trackId: 1 });
    subA.unsubscribe();
    bus.publish('face.enter', { ...SAMPLES['face.enter'], trackId: 2 });
    expect(a).toEqual([1]);
    expect(b).toEqual([1, 2]);
  });

  it('on() with the same name twice delivers once; on() with no name is a programming error', () => {
    fresh();
    const got: string[] = [];
    subs.add(bus.on('camera.removed', 'camera.removed').subscribe((e) => got.push(e.name)));
    bus.publish('camera.removed', SAMPLES['camera.removed']);
    expect(got).toEqual(['camera.removed']);
    expect(() => bus.on()).toThrow(TypeError);
  });

  it('every EventMap entry survives a structuredClone round trip (no object references cross the bus)', () => {
    fresh();
    expect(Object.values(PLAIN).every((v) => v === true)).toBe(true);
    const received: Envelope[] = [];
    subs.add(bus.on(...NAMES).subscribe((e) => received.push(e)));
    for (const name of NAMES) {
      bus.publish(name, SAMPLES[name] as never, { originId: 'conn-1', cameraIds: ['cam1'], node: 'edge-1' });
    }
    expect(received.map((e) => e.name)).toEqual(NAMES);
    for (const envelope of received) {
      // structuredClone throws on functions, sockets and other host objects, and turns class instances into plain
      // objects (which toStrictEqual then tells apart): what a networked transport would do to the envelope.
      const copy = structuredClone(envelope);
      expect(copy).toStrictEqual(envelope);
      // And JSON (the wire format to clients, and the NATS codec) keeps every event but face.observed's crop bytes.
      if (envelope.name !== 'face.observed') expect(JSON.parse(JSON.stringify(envelope))).toStrictEqual(envelope);
    }
  });

  it('names a NATS subject per event: camera-scoped events under their camera, the rest under their name', () => {
    expect(subjectOf('expression', SAMPLES.expression)).toBe('iex.v1.cam.cam1.expression');
    expect(subjectOf('face.leave', SAMPLES['face.leave'])).toBe('iex.v1.cam.cam1.face.leave');
    expect(subjectOf('camera.removed', SAMPLES['camera.removed'])).toBe('iex.v1.cam.cam1.camera.removed');
    expect(subjectOf('face.observed', SAMPLES['face.observed'])).toBe('iex.v1.cam.cam1.face.observed');
    expect(subjectOf('model.updated', SAMPLES['model.updated'])).toBe('iex.v1.model.updated');
    // a camera id cannot add subject tokens or wildcards, and distinct ids stay distinct
    const dotted = subjectOf('camera.removed', { type: 'camera.removed', cameraId: 'a.b*>c d' });
    expect(dotted.startsWith('iex.v1.cam.')).toBe(true);
    expect(dotted.split('.')).toHaveLength(6);
    expect(dotted).not.toMatch(/[*> ]/);
    expect(subjectOf('camera.removed', { type: 'camera.removed', cameraId: 'a.b' })).not.toBe(
      subjectOf('camera.removed', { type: 'camera.removed', cameraId: 'a%2Eb' }),
    );
    for (const name of NAMES) expect(subjectOf(name, SAMPLES[name] as never)).toMatch(/^iex\.v1\.[\w%.-]+$/);
  });
});
