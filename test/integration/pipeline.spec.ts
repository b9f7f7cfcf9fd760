import 'reflect-metadata';
import { Test, TestingModule } from '@nestjs/testing';
import { firstValueFrom, map, Subject, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { ConfigModule } from '../../src/config.module';
import type { ExpressionEvent, PipelineEvent } from '../../src/contracts/events';
import type { Frame } from '../../src/contracts/frames';
import { LABEL_NAMES } from '../../src/contracts/labels';
import { EventBus } from '../../src/events/event-bus';
import { HEAD_RESOLVER, HeadResolver } from '../../src/inference/head.resolver';
import { FACE_DETECTOR, FaceDetectorModel } from '../../src/inference/inference.module';
import type { FaceDetector } from '../../src/inference/inference.types';
import { PipelineModule } from '../../src/pipeline/pipeline.module';
import { FRAME_SOURCE, PipelineService } from '../../src/pipeline/pipeline.service';
import { waitUntil } from '../support/ingest-app';
import { MODELS } from '../support/paths';
import { D6, decodeBgrFrames, hasD6, noD6Reason } from '../support/video';

const config = loadConfig({ MODELS_DIR: MODELS, BATCH_SIZE: '4', BATCH_TIMEOUT_MS: '20' });

async function boot(extra: { provide: unknown; useValue: unknown }[] = [], cfg = config, detector?: FaceDetector) {
  const frames = new Subject<Frame>();
  const builder = Test.createTestingModule({
    imports: [
      ConfigModule.forRoot(cfg),
      PipelineModule.forRoot({ providers: [{ provide: FRAME_SOURCE, useValue: frames }, ...(extra as never[])] }),
    ],
  });
  if (detector) builder.overrideProvider(FACE_DETECTOR).useValue(Object.assign(detector, { release: async () => undefined }));
  const moduleRef = await builder.compile();
  await moduleRef.init();
  // what the pipeline publishes on the bus: its events, and the face crops (published only while subscribed)
  const bus = moduleRef.get(EventBus);
  const events$ = bus.on('expression', 'face.enter', 'face.leave').pipe(map((e) => e.payload));
  const faces$ = bus.on('face.observed').pipe(map((e) => e.payload));
  return { moduleRef, frames, service: moduleRef.get(PipelineService), events$, faces$ };
}

/** Push frames of two cameras paced like live sources (every `gapMs`), fresh capture timestamps. */
async function feed(frames: Subject<Frame>, video: ReturnType<typeof decodeBgrFrames>, cameras: string[], gapMs = 60) {
  for (let i = 0; i < video.frames.length; i++) {
    for (const cameraId of cameras)
      frames.next({ cameraId, frameId: i, ts: Date.now(), width: video.width, height: video.height, data: video.frames[i] });
    await new Promise((r) => setTimeout(r, gapMs));
  }
}

const isExpression = (e: PipelineEvent): e is ExpressionEvent => e.type === 'expression';

describe.skipIf(!hasD6)('PipelineService on real frames of d6.mp4', () => {
  let moduleRef: TestingModule | undefined;
  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });
  const video = hasD6 ? decodeBgrFrames(D6, { start: 3, count: 8, fps: 5 }) : null!;

  it('emits expression events with one tracked face per frame, scores summing to 1, face.enter once per camera', async () => {
    const booted = await boot();
    moduleRef = booted.moduleRef;
    const { service, frames, events$, faces$ } = booted;
    const events: PipelineEvent[] = [];
    const faces: { crop48: Uint8Array; cameraId: string }[] = [];
    events$.subscribe((e) => events.push(e));
    faces$.subscribe((f) => faces.push(f));
    await feed(frames, video, ['cam-a', 'cam-b']);
    // wait until every frame has been either dropped (latest wins; how many depends on the machine's load) or has
    // come out as an event, so a slow batch still in flight does not decide the counts below
    const settled = () => {
      const m = service.metrics.snapshot();
      return m.framesProcessed + m.framesDropped === 16 && events.filter(isExpression).length === m.framesProcessed;
    };
    for (let waited = 0; !settled() && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));

    const expr = events.filter(isExpression);
    for (const e of expr) {
      expect(e.faces).toHaveLength(1);
      const f = e.faces[0];
      const sum = LABEL_NAMES.reduce((s, l) => s + f.scores[l], 0);
      expect(sum).toBeCloseTo(1, 4);
      expect(f.scores[f.label]).toBe(Math.max(...LABEL_NAMES.map((l) => f.scores[l])));
      expect(f.box.w).toBeGreaterThan(50);
      expect(f.box.x + f.box.w).toBeLessThanOrEqual(e.width);
      expect(f.userId).toBeNull();
      expect(f.personalized).toBe(false);
      expect(e.latencyMs).toBeGreaterThanOrEqual(0);
      expect(e.latencyMs).toBeLessThan(5000);
    }
    for (const cam of ['cam-a', 'cam-b']) {
      const mine = expr.filter((e) => e.cameraId === cam);
      expect(mine.length).toBeGreaterThan(0);
      expect(new Set(mine.map((e) => e.faces[0].trackId)).size).toBe(1); // one stable track
      expect(events.filter((e) => e.type === 'face.enter' && e.cameraId === cam)).toHaveLength(1);
    }
    expect(faces.length).toBeGreaterThan(0);
    expect(faces[0].crop48).toHaveLength(48 * 48);

    const m = service.metrics.snapshot();
    expect(m.framesIn).toBe(16);
    expect(m.framesProcessed + m.framesDropped).toBe(16);
    expect(expr.length).toBe(m.framesProcessed); // one expression event per processed frame
    expect(m.faces).toBe(expr.length);
    expect(m.errors).toBe(0);
    expect(await service.metrics.registry.metrics()).toContain('iexpr_frames_in_total{camera="cam-a"} 8');

    service.forgetCamera('cam-a');
    expect(events.at(-1)).toMatchObject({ type: 'face.leave', cameraId: 'cam-a' });
  });

  it('turns a failed detector batch into a counted error and keeps the stream going', async () => {
    const booted = await boot();
    moduleRef = booted.moduleRef;
    const detector = moduleRef.get<FaceDetectorModel>(FACE_DETECTOR);
    let calls = 0;
    // the pooled detector is called through analyze() (detect + crop + trunk), the in-process one through detect()
    if (detector.analyze) {
      const real = detector.analyze.bind(detector);
      detector.analyze = async (images, request) => {
        if (calls++ === 0) throw new Error('boom');
        return real(images, request);
      };
    } else {
      const real = detector.detect.bind(detector);
      detector.detect = async (images) => {
        if (calls++ === 0) throw new Error('boom');
        return real(images);
      };
    }
    const got = firstValueFrom(booted.events$.pipe(take(3), toArray()));
    await feed(booted.frames, { ...video, frames: video.frames.slice(0, 4) }, ['cam-a'], 80);
    const events = await got;
    expect(events.some(isExpression)).toBe(true);
    expect(booted.service.metrics.snapshot().errors).toBe(1);
    expect(await booted.service.metrics.registry.metrics()).toContain('iexpr_pipeline_errors_total{stage="detect"} 1');
  });

  it('gives the same events whether crops and trunk run in the inference workers (analyze) or on the main thread', async () => {
    const run = async (workers: string) => {
      // no smoothing: each event then depends on its own frame only, so runs can be compared frame by frame even if
      // a loaded machine lets latest-wins replace a frame in one of them
      const cfg = loadConfig({ MODELS_DIR: MODELS, BATCH_SIZE: '2', BATCH_TIMEOUT_MS: '20', SMOOTHING: '0', INFERENCE_WORKERS: workers });
      const booted = await boot([], cfg);
      const events: ExpressionEvent[] = [];
      const crops: number[][] = [];
      booted.events$.subscribe((e) => isExpression(e) && events.push(e));
      booted.faces$.subscribe((f) => crops.push([f.frameId, f.region.x, f.region.w, f.crop48.reduce((a, b) => a + b, 0), f.cropLarge?.width ?? 0]));
      await feed(booted.frames, video, ['cam-a'], 150);
      await new Promise((r) => setTimeout(r, 300));
      const metrics = await booted.service.metrics.registry.metrics();
      await booted.moduleRef.close();
      return { events, crops, metrics };
    };
    const pooled = await run('2');
    const inProcess = await run('0');
    const both = pooled.events.filter((e) => inProcess.events.some((o) => o.frameId === e.frameId));
    expect(both.length).toBeGreaterThanOrEqual(4);
    for (const e of both) {
      const o = inProcess.events.find((x) => x.frameId === e.frameId)!;
      expect(e.faces.map((f) => [f.box, f.label])).toEqual(o.faces.map((f) => [f.box, f.label]));
      for (const l of LABEL_NAMES) expect(e.faces[0].scores[l]).toBeCloseTo(o.faces[0].scores[l], 5);
      const crop = (c: number[][]) => c.find((x) => x[0] === e.frameId);
      expect(crop(pooled.crops)).toEqual(crop(inProcess.crops));
    }
    expect(pooled.crops[0][4]).toBe(96); // faces$ had a subscriber: the workers made the large crop too
    // the pooled run never called the trunk from the main thread; the in-process run did
    expect(pooled.metrics).toMatch(/iexpr_inference_ms_count\{model="detector\+crop\+trunk"\} [1-9]/);
    expect(pooled.metrics).not.toMatch(/iexpr_inference_ms_count\{model="trunk"\}/);
    expect(inProcess.metrics).toMatch(/iexpr_inference_ms_count\{model="trunk"\} [1-9]/);
  });

  it('uses the per-user head the HeadResolver picks, and falls back to the general head if it fails', async () => {
    const personal = { calls: 0, run: async (_f: Float32Array, n: number) => (personal.calls++, Float32Array.from({ length: n * 7 }, (_, i) => (i % 7 === 4 ? 10 : 0))) };
    const broken = { run: async () => Promise.reject(new Error('bad head')) };
    const resolver: HeadResolver = {
      resolve: (cameraId) =>
        cameraId === 'cam-a' ? { userId: 'u1', head: personal } : { userId: 'u2', head: broken },
    };
    const booted = await boot([{ provide: HEAD_RESOLVER, useValue: resolver }]);
    moduleRef = booted.moduleRef;
    const events: PipelineEvent[] = [];
    booted.events$.subscribe((e) => events.push(e));
    await feed(booted.frames, { ...video, frames: video.frames.slice(0, 3) }, ['cam-a', 'cam-b']);
    // latest-wins keeps each camera's last frame, so both cameras yield an event; how soon depends on the load
    const seen = (id: string) => events.some((e) => isExpression(e) && e.cameraId === id);
    await waitUntil(() => seen('cam-a') && seen('cam-b'), 30_000, 'an expression event from each camera');
    const a = events.filter(isExpression).filter((e) => e.cameraId === 'cam-a');
    const b = events.filter(isExpression).filter((e) => e.cameraId === 'cam-b');
    expect(personal.calls).toBeGreaterThan(0);
    expect(a.length).toBeGreaterThan(0);
    for (const e of a) expect(e.faces[0]).toMatchObject({ userId: 'u1', personalized: true, label: 'sad' });
    expect(b.length).toBeGreaterThan(0);
    for (const e of b) expect(e.faces[0]).toMatchObject({ userId: 'u2', personalized: false });
    expect(booted.service.metrics.snapshot().errors).toBeGreaterThan(0);
  });
});

describe('PipelineService with PIPELINE_DEPTH=2 (no video needed)', () => {
  it('overlaps batches but keeps the events of each camera in frame order', async () => {
    // the first batch's detection is slow, the second's fast: the second must still come out after the first
    const delays = [150, 5, 5, 5];
    let call = 0;
    const detector: FaceDetector = {
      detect: async (images) => {
        const wait = delays[call++] ?? 5;
        await new Promise((r) => setTimeout(r, wait));
        return images.map(() => [{ box: { x: 40, y: 40, w: 100, h: 120 }, score: 0.9, landmarks: [] }]);
      },
    };
    const cfg = loadConfig({ MODELS_DIR: MODELS, BATCH_SIZE: '1', BATCH_TIMEOUT_MS: '0', PIPELINE_DEPTH: '2' });
    const { moduleRef, frames, service, events$ } = await boot([], cfg, detector);
    const events: ExpressionEvent[] = [];
    events$.subscribe((e) => isExpression(e) && events.push(e));
    const data = Buffer.alloc(200 * 200 * 3, 90);
    for (let i = 0; i < 4; i++) {
      frames.next({ cameraId: 'c', frameId: i, ts: Date.now(), width: 200, height: 200, data });
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 400));
    await moduleRef.close();
    const ids = events.map((e) => e.frameId);
    expect(ids.length).toBeGreaterThanOrEqual(2);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(ids[0]).toBe(0);
    expect(new Set(events.map((e) => e.faces[0].trackId)).size).toBe(1);
    expect(service.metrics.snapshot().framesProcessed).toBe(ids.length);
  });
});

if (!hasD6) describe('PipelineService on real frames of d6.mp4', () => it.skip(noD6Reason, () => undefined));
