/**
 * Pipeline benchmark: the real PipelineModule (YuNet + trunk + head on ONNX Runtime) in-process, fed N copies of a
 * video decoded once into memory, then the same with batching off (BATCH_SIZE=1) for the ratio.
 *
 *   npm run bench:pipeline -- --source ../shared/videos/d6.mp4 --cameras 8 [--fps 10] [--duration 10] [--json]
 *
 * --fps F: every camera pushes a frame every 1/F s (phases staggered), like live sources; latency is meaningful.
 * no --fps: closed loop, as fast as possible: each camera pushes its next frame as soon as its previous one came out
 *   as an event (or was dropped), so the pipeline is never idle and never floods.
 * Other options: --batch B (batched run's BATCH_SIZE, default = cameras), --timeout MS (BATCH_TIMEOUT_MS),
 *   --frames K (distinct frames kept in memory, default 100), --warmup S (default 1), --only batched|unbatched,
 *   --repeat R (default 3): R rounds of batched then unbatched; each mode reports its median round (by frames/s) and
 *   the speedup is the median of the R per-round ratios, so one disturbed run on a shared machine does not decide it.
 * --identity compare: live recognition off vs on (IDENTITY=off / face) instead of batched vs unbatched, both batched;
 *   the gallery holds the video's own face (so every track is recognised and re-checked as in production) and 20
 *   random users; rounds alternate the order; reports each mode's median round, the median on/off frames/s ratio (the
 *   bar: >= 0.9, docs/IDENTITY.md) and the median off/on ratio of CPU ms per frame (least disturbed by other load).
 *   --identity face|off runs the usual batched/unbatched comparison with that setting.
 * --integrations compare: history, MQTT and webhooks off vs on instead of batched vs unbatched, both batched (issue 16's
 *   bar: on >= 0.95 x off). Both modes boot the same modules as the app (StorageModule on a temp DATA_DIR, HistoryModule,
 *   MqttModule, DeliveryModule with its WebhookDispatcher); off: HISTORY=off, no MQTT_URL, no webhook rule; on: history
 *   written to that SQLite, MQTT to a mosquitto the bench starts on a free port (needs mosquitto installed), and one
 *   webhook rule posting to a receiver in a child process (scripts/bench/webhook-receiver.ts, 127.0.0.1:0), which
 *   verifies each signature as docs/INTEGRATIONS.md shows. --webhook-rule user (default): a rule as a user writes one
 *   (label surprise, minScore 0.45, at most one call a second: ~1 firing a second on 8 cameras of d6); --webhook-rule
 *   flood: the worst case (no label, minScore 0.3, no cooldown: fires per track and per change of dominant label, ~50
 *   a second).
 *   Rounds alternate the order; reports frames/s off vs on per round, the median on/off ratio, and the history rows,
 *   MQTT messages and webhook deliveries (sent, received, verified) of each on run.
 * --models A,B: the shipped models folder (A) against another (B, e.g. a candidate trunk exported with the same head
 *   files) instead of batched vs unbatched, both batched; rounds alternate the order; reports each folder's median
 *   round and the median B/A frames/s ratio (issue 17: a new trunk must keep >= 200 frames/s over 8 cameras).
 * Environment settings (EXECUTION_PROVIDER, ORT_THREADS, DETECTOR_INPUT_SIZE...) apply as in the server.
 */
import 'reflect-metadata';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Subject } from 'rxjs';
import { loadConfig } from '../src/config';
import { ConfigModule } from '../src/config.module';
import type { CameraView } from '../src/contracts/cameras';
import type { Frame } from '../src/contracts/frames';
import { DeliveryModule } from '../src/delivery/delivery.module';
import { VERSION } from '../src/delivery/health.controller';
import { WebhookMetrics } from '../src/delivery/webhooks/webhook.dispatcher';
import { WebhooksService } from '../src/delivery/webhooks/webhooks.service';
import { HistoryMetrics } from '../src/history/history.metrics';
import { HistoryModule } from '../src/history/history.module';
import { MqttMetrics } from '../src/integrations/mqtt/mqtt.metrics';
import { MqttModule } from '../src/integrations/mqtt/mqtt.module';
import { StorageModule } from '../src/storage/storage.module';
import { EventBus } from '../src/events/event-bus';
import { alignFaceViews } from '../src/inference/embedding/face-align';
import { FaceEmbedder, faceEmbeddingPath } from '../src/inference/embedding/face-embedder';
import { FACE_RECOGNIZER, type FaceRecognizer } from '../src/inference/face.recognizer';
import { detectorPath } from '../src/inference/inference.module';
import { OrtSessionFactory } from '../src/inference/ort.sessions';
import { YunetDetector } from '../src/inference/yunet.detector';
import { DEFAULT_FACE_MATCH, FaceMatcher } from '../src/personalization/identity/face-matcher';
import { PipelineModule } from '../src/pipeline/pipeline.module';
import { FRAME_SOURCE, PipelineService } from '../src/pipeline/pipeline.service';
import { Mosquitto } from '../test/support/mosquitto';
import { findTool } from '../test/support/require-tool';
import type { ReceiverReply, ReceiverRequest } from './bench/webhook-receiver';
import { cliArgs, numberArg } from './cli';

/**
 * --webhook-rule: the "on" runs' one rule. `user`: as a user writes one, a label and a cooldown ("tell me when someone
 * is surprised, at most once a second"). Not a minimum duration: the bench plays the video 2-3x faster than real time,
 * so how often a score holds for N ms depends on the machine's speed, while d6 shows surprise (>= 0.45, the e2e test's
 * threshold) every second or so at any speed. `flood`: no label, a low score, no cooldown, so it fires on every new
 * track and every change of a face's dominant label (~50 a second): the worst case a rule can cost the server.
 */
const WEBHOOK_RULES = {
  user: { label: 'surprise', minScore: 0.45, cooldownMs: 1000 },
  flood: { minScore: 0.3, cooldownMs: 0 },
} as const;

const args = cliArgs(
  'npm run bench:pipeline -- --source <video> --cameras N [--fps F] [--duration S] [--warmup S] [--batch N] [--timeout MS] [--frames N] [--only batched|unbatched] [--repeat R] [--identity compare|face|off] [--integrations compare] [--webhook-rule user|flood] [--models A,B] [--json]',
  {
    source: { type: 'string', default: resolve(__dirname, '../../shared/videos/d6.mp4') },
    cameras: { type: 'string', default: '8' },
    fps: { type: 'string' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '1' },
    batch: { type: 'string' },
    timeout: { type: 'string' },
    frames: { type: 'string', default: '100' },
    only: { type: 'string' },
    repeat: { type: 'string', default: '3' },
    identity: { type: 'string' },
    integrations: { type: 'string' },
    models: { type: 'string' },
    'webhook-rule': { type: 'string', default: 'user' },
    json: { type: 'boolean', default: false },
  },
);

const cameras = numberArg('cameras', args.cameras, { min: 1, max: 64, int: true });
const fps = args.fps !== undefined ? numberArg('fps', args.fps, { min: 0.1, max: 120 }) : null;
const duration = numberArg('duration', args.duration, { min: 1, max: 3600 });
const warmup = numberArg('warmup', args.warmup, { min: 0, max: 600 });
const repeat = numberArg('repeat', args.repeat, { min: 1, max: 20, int: true });
if (args.only !== undefined && args.only !== 'batched' && args.only !== 'unbatched') {
  console.error(`--only must be batched or unbatched (got ${JSON.stringify(args.only)})`);
  process.exit(2);
}
if (args.identity !== undefined && !['compare', 'face', 'off'].includes(args.identity)) {
  console.error(`--identity must be compare, face or off (got ${JSON.stringify(args.identity)})`);
  process.exit(2);
}
if (args.integrations !== undefined && args.integrations !== 'compare') {
  console.error(`--integrations must be compare (got ${JSON.stringify(args.integrations)})`);
  process.exit(2);
}
if (!(args['webhook-rule'] in WEBHOOK_RULES)) {
  console.error(`--webhook-rule must be ${Object.keys(WEBHOOK_RULES).join(' or ')} (got ${JSON.stringify(args['webhook-rule'])})`);
  process.exit(2);
}
if (args.integrations !== undefined && args.identity === 'compare') {
  console.error('--integrations compare and --identity compare are two different comparisons: give one');
  process.exit(2);
}
const comparisons = [args.identity === 'compare', args.integrations !== undefined, args.models !== undefined].filter(Boolean).length;
if (comparisons > 1) {
  console.error('--identity compare, --integrations compare and --models are different comparisons: give one');
  process.exit(2);
}
const modelDirs = args.models === undefined ? undefined : parseModelDirs(args.models);

/** --models A,B: two existing models folders, each with general/trunk.onnx. */
function parseModelDirs(value: string): [string, string] {
  const dirs = value.split(',').map((d) => resolve(d.trim()));
  if (dirs.length !== 2 || dirs.some((d) => d === resolve(''))) {
    console.error(`--models takes two models folders, comma-separated (got ${JSON.stringify(value)})`);
    process.exit(2);
  }
  for (const d of dirs) {
    if (!existsSync(join(d, 'general', 'trunk.onnx'))) {
      console.error(`--models: ${d} is not a models folder (no general/trunk.onnx in it)`);
      process.exit(2);
    }
  }
  return dirs as [string, string];
}
const log = (s: string) => (args.json ? process.stderr.write(s + '\n') : console.log(s));

function decode(path: string, count: number): { width: number; height: number; frames: Buffer[] } {
  const ffmpeg = process.env.FFMPEG_PATH ?? 'ffmpeg';
  const [width, height] = execFileSync(ffmpeg.replace(/ffmpeg$/, 'ffprobe'), [
    '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', path,
  ]).toString().trim().split(',').map(Number);
  const raw = execFileSync(
    ffmpeg,
    ['-nostdin', '-v', 'error', '-i', path, '-vf', `fps=${fps ?? 10}`, '-frames:v', String(count), '-f', 'rawvideo', '-pix_fmt', 'bgr24', 'pipe:1'],
    { maxBuffer: 2 ** 31 },
  );
  const size = width * height * 3;
  const frames: Buffer[] = [];
  for (let o = 0; o + size <= raw.length; o += size) frames.push(raw.subarray(o, o + size));
  if (frames.length === 0) throw new Error(`no frames decoded from ${path}`);
  return { width, height, frames };
}

interface RunResult {
  batchSize: number;
  framesPerSecond: number;
  facesPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  droppedFrames: number;
  framesIn: number;
  errors: number;
  batchSizes: Record<number, number>;
  cpuPercent: number;
  /** CPU time of this process per processed frame: the figure least disturbed by other load on a shared machine. */
  cpuMsPerFrame: number;
  /** Share of the wall time the main thread's event loop was busy (it also serves cameras and WebSockets). */
  mainThreadBusyPercent: number;
  mainThreadMsPerFrame: number;
  rssMiB: number;
  inferenceMsPerBatch: Record<string, number>;
  identity: string;
  /** Faces embedded / due tracks deferred (batch full) during the measurement (IDENTITY=face). */
  identityEmbedded: number;
  identityDeferred: number;
  /** The identity scheduler's measured pipeline load at the end (< 0.7: quiet, re-checks every IDENTITY_RECHECK_MS). */
  identityLoad: number;
  /** face.enter / identity.changed events during the measurement (track churn and recognition flips explain the embeddings). */
  tracksEntered: number;
  identityChanges: number;
  /** --integrations compare: what the integrations did during the whole run (warm-up, measurement, shutdown flush). */
  integrations?: IntegrationCounts;
}

interface IntegrationCounts {
  on: boolean;
  /** History rows committed to the run's SQLite (iexpr_history_rows_written_total), and rows dropped. */
  historyRows: number;
  historyDropped: number;
  /** MQTT messages handed to the broker connection (iexpr_mqtt_published_total), and dropped. */
  mqttPublished: number;
  mqttDropped: number;
  /** Webhook firings, deliveries answered 2xx by the receiver, failed deliveries, firings dropped (queue full). */
  webhookFirings: number;
  webhookDelivered: number;
  webhookFailed: number;
  webhookDropped: number;
  /** POSTs the receiver (a child process) got during the run, and how many of them verified (signature, timestamp, id). */
  webhookReceived: number;
  webhookVerified: number;
}

/** --integrations: the broker and the receiver the "on" runs use (started once, shared by the rounds). */
interface IntegrationTargets {
  mqttUrl: string;
  receiver: ChildReceiver;
}

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);
const r1 = (v: number) => Math.round(v * 10) / 10;

/**
 * `integrations` (--integrations compare): the app's integration modules around the pipeline, on a fresh temp DATA_DIR;
 * null targets: all off by their settings (HISTORY=off, no MQTT_URL, no webhook rule), else all on.
 */
async function run(
  video: ReturnType<typeof decode>,
  batchSize: number,
  identity?: 'face' | 'off',
  recognizer?: FaceRecognizer,
  integrations?: { targets: IntegrationTargets | null },
  overrides: NodeJS.ProcessEnv = {},
): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...overrides, BATCH_SIZE: String(batchSize) };
  if (identity) env.IDENTITY = identity;
  if (args.timeout) env.BATCH_TIMEOUT_MS = args.timeout;
  const ids = Array.from({ length: cameras }, (_, i) => `cam${i}`);
  const targets = integrations?.targets ?? null;
  const dataDir = integrations ? mkdtempSync(join(tmpdir(), 'bench-integrations-')) : null;
  if (dataDir) {
    env.DATA_DIR = dataDir;
    env.HISTORY = targets ? 'on' : 'off';
    delete env.MQTT_URL;
    if (targets) env.MQTT_URL = targets.mqttUrl;
  }
  const config = loadConfig(env);
  const source = new Subject<Frame>();
  // As AppModule builds them; the camera directory is the bench's cameras (the app binds ingest's CameraService).
  const mqtt = MqttModule.forRoot({ cameras: { useValue: benchCameraDirectory(ids) }, version: VERSION });
  const app: INestApplicationContext = await NestFactory.createApplicationContext(
    {
      module: class BenchModule {},
      imports: [
        ConfigModule.forRoot(config),
        ...(integrations ? [StorageModule] : []),
        PipelineModule.forRoot({
          providers: [{ provide: FRAME_SOURCE, useValue: source }, ...(recognizer ? [{ provide: FACE_RECOGNIZER, useValue: recognizer }] : [])],
        }),
        ...(integrations ? [mqtt, HistoryModule, DeliveryModule.forRoot({ imports: [mqtt] })] : []),
      ],
    },
    { logger: ['error', 'warn'] },
  );
  await app.init();
  if (targets) {
    // through the REST API's service (URL policy, stored rule, dispatcher reload), as POST /api/webhooks does
    const rule = await app.get(WebhooksService).create({ url: targets.receiver.url, ...WEBHOOK_RULES[args['webhook-rule'] as keyof typeof WEBHOOK_RULES] });
    await targets.receiver.expect(rule.secret);
  }
  const service = app.get(PipelineService);
  const next = new Map(ids.map((id, i) => [id, (i * 7) % video.frames.length]));
  const push = (cameraId: string) => {
    const i = next.get(cameraId)!;
    next.set(cameraId, i + 1);
    source.next({ cameraId, frameId: i, ts: Date.now(), width: video.width, height: video.height, data: video.frames[i % video.frames.length] });
  };

  let measuring = false;
  let frames = 0;
  let faces = 0;
  const latencies: number[] = [];
  const sub = app.get(EventBus).on('expression').subscribe(({ payload: e }) => {
    if (measuring) {
      frames++;
      faces += e.faces.length;
      latencies.push(e.latencyMs);
    }
    if (fps === null) push(e.cameraId);
  });
  let tracksEntered = 0;
  let identityChanges = 0;
  sub.add(
    app.get(EventBus).on('face.enter', 'identity.changed').subscribe(({ name }) => {
      if (!measuring) return;
      if (name === 'face.enter') tracksEntered++;
      else identityChanges++;
    }),
  );

  const timers: NodeJS.Timeout[] = [];
  let closedLoopKick: NodeJS.Timeout | undefined;
  if (fps !== null) {
    const period = 1000 / fps;
    ids.forEach((id, k) => timers.push(setTimeout(() => timers.push(setInterval(() => push(id), period)), (k * period) / cameras)));
  } else {
    ids.forEach(push);
    // a frame lost to a failed batch or replaced by latest-wins produces no event: re-kick cameras that went quiet
    let seen = service.metrics.snapshot().framesProcessed;
    closedLoopKick = setInterval(() => {
      const now = service.metrics.snapshot().framesProcessed;
      if (now === seen) ids.forEach(push);
      seen = now;
    }, 500);
  }

  await new Promise((r) => setTimeout(r, warmup * 1000));
  const m0 = service.metrics.snapshot();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  measuring = true;
  let rss = 0;
  const rssTimer = setInterval(() => (rss = Math.max(rss, process.memoryUsage().rss)), 250);
  await new Promise((r) => setTimeout(r, duration * 1000));
  measuring = false;
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  const m1 = service.metrics.snapshot();
  [...timers].forEach((t) => clearInterval(t));
  clearInterval(rssTimer);
  clearInterval(closedLoopKick);
  sub.unsubscribe();
  const hist: Record<number, number> = {};
  for (const [k, v] of Object.entries(m1.batchSizes)) {
    const d = v - (m0.batchSizes[Number(k)] ?? 0);
    if (d > 0) hist[Number(k)] = d;
  }
  const inference = await service.metrics.registry.getSingleMetric('iexpr_inference_ms')!.get();
  const inferenceMsPerBatch: Record<string, number> = {};
  const values = inference.values as { labels: Record<string, unknown>; value: number; metricName?: string }[];
  for (const model of ['detector', 'detector+crop+trunk', 'trunk', 'head', 'identify']) {
    const sum = values.find((v) => v.labels.model === model && v.metricName?.endsWith('_sum'))?.value ?? 0;
    const count = values.find((v) => v.labels.model === model && v.metricName?.endsWith('_count'))?.value ?? 0;
    if (count) inferenceMsPerBatch[model] = r1(sum / count);
  }
  const historyMetrics = integrations ? app.get(HistoryMetrics) : null;
  const mqttMetrics = integrations ? app.get(MqttMetrics) : null;
  const webhookMetrics = integrations ? app.get(WebhookMetrics) : null;
  await app.close(); // the recorder's last flush happens here
  let integrationCounts: IntegrationCounts | undefined;
  if (historyMetrics && mqttMetrics && webhookMetrics) {
    const received = targets ? await targets.receiver.count() : { received: 0, verified: 0 };
    const total = async (m: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }, label?: [string, string]) =>
      (await m.get()).values.filter((v) => !label || v.labels[label[0]] === label[1]).reduce((a, v) => a + v.value, 0);
    const mq = await mqttMetrics.snapshot();
    integrationCounts = {
      on: targets !== null,
      historyRows: await total(historyMetrics.rowsWritten),
      historyDropped: await total(historyMetrics.rowsDropped),
      mqttPublished: mq.published,
      mqttDropped: Object.values(mq.dropped).reduce((a, v) => a + v, 0),
      webhookFirings: await total(webhookMetrics.firings),
      webhookDelivered: await total(webhookMetrics.outcomes, ['outcome', 'delivered']),
      webhookFailed: await total(webhookMetrics.outcomes, ['outcome', 'failed']),
      webhookDropped: await total(webhookMetrics.dropped),
      webhookReceived: received.received,
      webhookVerified: received.verified,
    };
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  return {
    batchSize,
    framesPerSecond: r1(frames / wall),
    facesPerSecond: r1(faces / wall),
    latencyMs: { p50: pct(latencies, 50), p95: pct(latencies, 95), p99: pct(latencies, 99), max: latencies.at(-1) ?? NaN },
    droppedFrames: m1.framesDropped - m0.framesDropped,
    framesIn: m1.framesIn - m0.framesIn,
    errors: m1.errors - m0.errors,
    batchSizes: hist,
    cpuPercent: r1(((cpu.user + cpu.system) / 1e6 / wall) * 100),
    cpuMsPerFrame: Math.round(((cpu.user + cpu.system) / 1e3 / Math.max(1, frames)) * 100) / 100,
    mainThreadBusyPercent: r1(elu.utilization * 100),
    mainThreadMsPerFrame: Math.round((elu.active / Math.max(1, frames)) * 100) / 100,
    rssMiB: r1(rss / 2 ** 20),
    inferenceMsPerBatch,
    identity: config.IDENTITY,
    identityEmbedded: m1.identityEmbedded - m0.identityEmbedded,
    identityDeferred: m1.identityDeferred - m0.identityDeferred,
    identityLoad: Math.round(m1.identityLoad * 100) / 100,
    tracksEntered,
    identityChanges,
    ...(integrationCounts ? { integrations: integrationCounts } : {}),
  };
}

/** The webhook receiver in a child process (scripts/bench/webhook-receiver.ts): its CPU is not the server's. */
interface ChildReceiver {
  url: string;
  /** A new run: the receiver's counts start at 0 and it verifies with this secret. */
  expect(secret: string): Promise<void>;
  count(): Promise<{ received: number; verified: number }>;
  close(): Promise<void>;
}

async function startChildReceiver(): Promise<ChildReceiver> {
  // fork() runs it with this process's execArgv, so under tsx it loads the TypeScript file the same way
  const child = fork(resolve(__dirname, 'bench/webhook-receiver.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const reply = <T extends ReceiverReply['type']>(type: T) =>
    new Promise<Extract<ReceiverReply, { type: T }>>((resolve, reject) => {
      const onMessage = (m: ReceiverReply) => {
        if (m.type !== type) return;
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(m as Extract<ReceiverReply, { type: T }>);
      };
      const onExit = (code: number | null) => reject(new Error(`the webhook receiver exited (${code}) before answering "${type}"`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const ask = (m: ReceiverRequest) => new Promise<void>((resolve, reject) => child.send(m, (err) => (err ? reject(err) : resolve())));
  const { url } = await reply('ready');
  return {
    url,
    expect: (secret) => ask({ type: 'expect', secret }),
    count: async () => {
      const answer = reply('count');
      await ask({ type: 'count' });
      const { received, verified } = await answer;
      return { received, verified };
    },
    close: async () => {
      if (child.connected) child.disconnect();
      await exited;
    },
  };
}

/** CAMERA_DIRECTORY for MqttModule: the bench's cameras (names for Home Assistant discovery; binding is not used). */
function benchCameraDirectory(ids: string[]): { get(id: string): CameraView; list(): CameraView[]; setUser(): never } {
  const view = (id: string) => ({ id, name: id, url: 'bench://memory', kind: 'file', fps: fps ?? 0, loop: true, userId: null, status: 'running' }) as unknown as CameraView;
  return {
    get: (id) => {
      if (!ids.includes(id)) throw Object.assign(new Error(`no camera "${id}"`), { code: 'not_found' });
      return view(id);
    },
    list: () => ids.map(view),
    setUser: () => {
      throw new Error('the bench binds no camera to a user');
    },
  };
}

/** A gallery for --identity: the video's own face (one embedding per distinct frame, up to 5, the live recipe) as user
 * "video", plus 20 users with 5 random unit embeddings each (distances ~1.4: never nearer than the real face). */
async function benchRecognizer(video: ReturnType<typeof decode>): Promise<FaceRecognizer> {
  const config = loadConfig();
  const factory = new OrtSessionFactory({ ...config, quiet: true });
  const detector = new YunetDetector(await factory.create(detectorPath(config)), {
    size: config.DETECTOR_INPUT_SIZE,
    scoreThreshold: config.DETECTOR_SCORE_THRESHOLD,
    nmsIou: config.DETECTOR_NMS_IOU,
    minFacePixels: config.MIN_FACE_PIXELS,
  });
  const embedder = await FaceEmbedder.create(factory, faceEmbeddingPath(config.modelsDir));
  try {
    const images = video.frames.slice(0, 5).map((data) => ({ data, width: video.width, height: video.height }));
    const views = (await detector.detect(images)).flatMap((list, i) => (list[0] ? [alignFaceViews(images[i], 'bgr', list[0].landmarks).crops] : []));
    if (views.length === 0) throw new Error('--identity: no face found in the first frames of the video');
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const unit = () => {
      const v = Float32Array.from({ length: 128 }, rand);
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    };
    const matcher = new FaceMatcher(
      [
        { userId: 'video', embeddings: await embedder.embedFaces(views) },
        ...Array.from({ length: 20 }, (_, u) => ({ userId: `random${u}`, embeddings: Array.from({ length: 5 }, unit) })),
      ],
      DEFAULT_FACE_MATCH,
    );
    return {
      size: matcher.size,
      version: 0,
      match: (probes) => {
        const m = matcher.match(probes);
        return { userId: m.userId, distance: m.nearest?.distance ?? null, margin: m.margin };
      },
    };
  } finally {
    await Promise.allSettled([detector.release(), embedder.release()]);
  }
}

function print(name: string, r: RunResult): void {
  log(
    `${name.padEnd(9)} batch<=${r.batchSize}: ${r.framesPerSecond} frames/s, ${r.facesPerSecond} faces/s, latency p50/p95/p99 ` +
      `${r.latencyMs.p50}/${r.latencyMs.p95}/${r.latencyMs.p99} ms, dropped ${r.droppedFrames}/${r.framesIn}, errors ${r.errors}, ` +
      `CPU ${r.cpuPercent}% (${r.cpuMsPerFrame} ms/frame), main thread busy ${r.mainThreadBusyPercent}% (${r.mainThreadMsPerFrame} ms/frame), RSS ${r.rssMiB} MiB\n          batch sizes ${JSON.stringify(r.batchSizes)}, ms per call ${JSON.stringify(r.inferenceMsPerBatch)}` +
      `, tracks entered ${r.tracksEntered}` +
      (r.identity === 'face' ? `, faces embedded ${r.identityEmbedded}, deferred ${r.identityDeferred}, load ${r.identityLoad}, identity.changed ${r.identityChanges}` : '') +
      (r.integrations?.on
        ? `\n          history rows ${r.integrations.historyRows} (dropped ${r.integrations.historyDropped}), MQTT published ${r.integrations.mqttPublished} (dropped ${r.integrations.mqttDropped}), ` +
          `webhook firings ${r.integrations.webhookFirings}, delivered ${r.integrations.webhookDelivered}, failed ${r.integrations.webhookFailed}, dropped ${r.integrations.webhookDropped}, received ${r.integrations.webhookReceived} (verified ${r.integrations.webhookVerified})`
        : ''),
  );
}

/** The run with the median frames/s (the lower middle one for an even count). */
function medianBy(runs: (RunResult | undefined)[]): RunResult | undefined {
  const sorted = runs.filter((r): r is RunResult => r !== undefined).sort((a, b) => a.framesPerSecond - b.framesPerSecond);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

async function main(): Promise<void> {
  const video = decode(resolve(args.source), Number(args.frames));
  const provider = loadConfig().EXECUTION_PROVIDER;
  log(
    `${cameras} camera(s) x ${args.source} (${video.width}x${video.height}, ${video.frames.length} frames in memory), ` +
      `${fps ? `${fps} fps per camera` : 'as fast as possible (closed loop)'}, ${duration} s after ${warmup} s warm-up, provider ${provider}`,
  );
  const batchSize = Number(args.batch ?? Math.max(cameras, 1));
  const out: Record<string, unknown> = { cameras, fps, duration, provider, source: args.source };
  if (args.identity === 'compare') return compareIdentity(video, batchSize, out);
  if (args.integrations === 'compare') return compareIntegrations(video, batchSize, out);
  if (modelDirs) return compareModels(video, batchSize, out, modelDirs);
  const recognizer = args.identity === 'face' ? await benchRecognizer(video) : undefined;
  const identity = args.identity as 'face' | 'off' | undefined;
  const rounds: { batched?: RunResult; unbatched?: RunResult; speedup?: number }[] = [];
  for (let r = 0; r < repeat; r++) {
    if (repeat > 1) log(`round ${r + 1}/${repeat}`);
    const round: (typeof rounds)[number] = {};
    if (args.only !== 'unbatched') print('batched', (round.batched = await run(video, batchSize, identity, recognizer)));
    if (args.only !== 'batched') print('unbatched', (round.unbatched = await run(video, 1, identity, recognizer)));
    if (round.batched && round.unbatched) {
      round.speedup = Math.round((round.batched.framesPerSecond / round.unbatched.framesPerSecond) * 100) / 100;
      log(`speedup (frames/s batched / unbatched): ${round.speedup}x`);
    }
    rounds.push(round);
  }
  const batched = medianBy(rounds.map((r) => r.batched));
  const unbatched = medianBy(rounds.map((r) => r.unbatched));
  out.batched = batched;
  out.unbatched = unbatched;
  const ratios = rounds.flatMap((r) => (r.speedup === undefined ? [] : [r.speedup])).sort((a, b) => a - b);
  if (ratios.length > 0) {
    // paced runs deliver what the cameras send either way: compare by throughput only when it is not capped by the source
    out.speedup = ratios[Math.floor((ratios.length - 1) / 2)];
    out.speedups = rounds.map((r) => r.speedup);
  }
  if (repeat > 1) {
    log(`median of ${repeat} rounds:`);
    if (batched) print('batched', batched);
    if (unbatched) print('unbatched', unbatched);
    if (ratios.length > 0) log(`speedup (median of the rounds' ratios ${ratios.join(', ')}): ${out.speedup}x`);
  }
  if (args.json) process.stdout.write(JSON.stringify(out) + '\n');
}

/** One mode of an A/B comparison: what it is called in the log, and one run of it. */
interface Mode {
  label: string;
  run: () => Promise<RunResult>;
}

/** The result of alternating rounds of two modes: each mode's median round and the median per-round ratios (b / a). */
interface Alternated {
  a: RunResult;
  b: RunResult;
  /** median of the rounds' frames/s ratios b / a */
  ratio: number;
  ratios: number[];
  /** median of the rounds' CPU ms per frame ratios a / b: the figure least disturbed by other load */
  cpuRatio: number;
  cpuRatios: number[];
  framesPerSecond: { a: number; b: number }[];
  rounds: { a: RunResult; b: RunResult }[];
}

const lowerMedian = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)];
const ratio3 = (x: number, y: number) => Math.round((x / y) * 1000) / 1000;

/**
 * R rounds of (a, b), the order alternating every round so that a load that changes over time does not always favour
 * the same mode; each round's ratio compares two runs made back to back, and the median of those decides.
 */
async function alternateRounds(a: Mode, b: Mode): Promise<Alternated> {
  const rounds: { a: RunResult; b: RunResult }[] = [];
  for (let r = 0; r < repeat; r++) {
    if (repeat > 1) log(`round ${r + 1}/${repeat}`);
    const round: Partial<{ a: RunResult; b: RunResult }> = {};
    for (const key of r % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)) {
      const mode = key === 'a' ? a : b;
      print(mode.label, (round[key] = await mode.run()));
    }
    const done = round as { a: RunResult; b: RunResult };
    log(
      `${b.label} / ${a.label}: frames/s ${done.b.framesPerSecond} / ${done.a.framesPerSecond} = ${ratio3(done.b.framesPerSecond, done.a.framesPerSecond)}, ` +
        `CPU per frame (${a.label} / ${b.label}) ${ratio3(done.a.cpuMsPerFrame, done.b.cpuMsPerFrame)}`,
    );
    rounds.push(done);
  }
  const ratios = rounds.map((r) => ratio3(r.b.framesPerSecond, r.a.framesPerSecond));
  const cpuRatios = rounds.map((r) => ratio3(r.a.cpuMsPerFrame, r.b.cpuMsPerFrame));
  return {
    a: medianBy(rounds.map((r) => r.a))!,
    b: medianBy(rounds.map((r) => r.b))!,
    ratio: lowerMedian(ratios),
    ratios,
    cpuRatio: lowerMedian(cpuRatios),
    cpuRatios,
    framesPerSecond: rounds.map((r) => ({ a: r.a.framesPerSecond, b: r.b.framesPerSecond })),
    rounds,
  };
}

/** A comparison's figures in the JSON output, under one prefix: <prefix><A>, <prefix><B>, <prefix>Ratio(s), <prefix>CpuRatio(s). */
function record(out: Record<string, unknown>, prefix: string, names: [string, string], c: Alternated): void {
  out[prefix + names[0]] = c.a;
  out[prefix + names[1]] = c.b;
  out[prefix + 'Ratio'] = c.ratio;
  out[prefix + 'Ratios'] = c.ratios;
  out[prefix + 'CpuRatio'] = c.cpuRatio;
  out[prefix + 'CpuRatios'] = c.cpuRatios;
}

/** --identity compare: R rounds of (IDENTITY=off, IDENTITY=face), batched; median round per mode, median ratio. */
async function compareIdentity(video: ReturnType<typeof decode>, batchSize: number, out: Record<string, unknown>): Promise<void> {
  const recognizer = await benchRecognizer(video);
  const c = await alternateRounds(
    { label: 'id off', run: () => run(video, batchSize, 'off') },
    { label: 'id on', run: () => run(video, batchSize, 'face', recognizer) },
  );
  record(out, 'identity', ['Off', 'On'], c);
  log(`median of ${repeat} round(s): recognition on / off = ${c.ratio} (rounds ${c.ratios}); CPU per frame off / on = ${c.cpuRatio} (rounds ${c.cpuRatios})`);
  if (args.json) process.stdout.write(JSON.stringify(out) + '\n');
}

/** --integrations compare: R rounds of (integrations off, on), batched; median round per mode, median on/off ratio. */
async function compareIntegrations(video: ReturnType<typeof decode>, batchSize: number, out: Record<string, unknown>): Promise<void> {
  const bin = findTool('mosquitto') ?? findTool('/usr/sbin/mosquitto');
  if (!bin) {
    console.error('--integrations compare needs an MQTT broker: mosquitto is not installed (`apt-get install -y mosquitto`)');
    process.exit(2);
  }
  const identity = args.identity as 'face' | 'off' | undefined;
  const recognizer = identity === 'face' ? await benchRecognizer(video) : undefined;
  const broker = await Mosquitto.start(bin);
  const receiver = await startChildReceiver();
  const targets: IntegrationTargets = { mqttUrl: broker.url, receiver };
  try {
    const c = await alternateRounds(
      { label: 'integ off', run: () => run(video, batchSize, identity, recognizer, { targets: null }) },
      { label: 'integ on', run: () => run(video, batchSize, identity, recognizer, { targets }) },
    );
    record(out, 'integrations', ['Off', 'On'], c);
    out.integrationsFramesPerSecond = c.framesPerSecond.map((r) => ({ off: r.a, on: r.b }));
    // proof that "on" was on: what each on run wrote, published and delivered
    out.integrationsActivity = c.rounds.map((r) => r.b.integrations);
    log(
      `median of ${repeat} round(s): integrations on / off = ${c.ratio} (rounds ${c.ratios}; bar >= 0.95); ` +
        `CPU per frame off / on = ${c.cpuRatio} (rounds ${c.cpuRatios})`,
    );
    if (args.json) process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    await receiver.close();
    await broker.stop();
  }
}

/**
 * --models A,B: the same batched pipeline on two models folders (MODELS_DIR), e.g. the shipped trunk against a
 * candidate's, in alternating rounds: issue 17's "bench:pipeline still >= 200 frames/s" for a new network.
 */
async function compareModels(video: ReturnType<typeof decode>, batchSize: number, out: Record<string, unknown>, dirs: [string, string]): Promise<void> {
  const identity = args.identity as 'face' | 'off' | undefined;
  const recognizer = identity === 'face' ? await benchRecognizer(video) : undefined;
  const c = await alternateRounds(
    { label: 'models A', run: () => run(video, batchSize, identity, recognizer, undefined, { MODELS_DIR: dirs[0] }) },
    { label: 'models B', run: () => run(video, batchSize, identity, recognizer, undefined, { MODELS_DIR: dirs[1] }) },
  );
  out.models = { a: dirs[0], b: dirs[1] };
  record(out, 'models', ['A', 'B'], c);
  out.modelsFramesPerSecond = c.framesPerSecond;
  log(
    `median of ${repeat} round(s): A ${dirs[0]} ${c.a.framesPerSecond} frames/s, B ${dirs[1]} ${c.b.framesPerSecond} frames/s; ` +
      `B / A = ${c.ratio} (rounds ${c.ratios}); CPU per frame A / B = ${c.cpuRatio} (rounds ${c.cpuRatios})`,
  );
  if (args.json) process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
