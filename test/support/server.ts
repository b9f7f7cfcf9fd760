/**
 * A real server for end-to-end tests: the delivery module (gateway, REST, auth) on `listen(0)`, with a fake camera
 * API bound through the DI container and fake event sources (Subjects) bridged into the EventBus as the pipeline
 * and ingest publish there. Also a small `ws` client that queues messages.
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject, Subscription } from 'rxjs';
import WebSocket from 'ws';
import { loadConfig, Config } from '../../src/config';
import { ConfigModule } from '../../src/config.module';
import type { CameraInput, CameraStatus, CameraView } from '../../src/contracts/cameras';
import type { PipelineEvent } from '../../src/contracts/events';
import type { Frame } from '../../src/contracts/frames';
import type { ServerMessage } from '../../src/contracts/messages';
import { DeliveryModule } from '../../src/delivery/delivery.module';
import { BrowserCamera, CAMERA_API, CameraApi } from '../../src/delivery/delivery.tokens';
import { configureHttpEdge, HTTP_EDGE_OPTIONS } from '../../src/delivery/http-edge';
import { setupOpenApi } from '../../src/delivery/openapi';
import { GatewayWsAdapter } from '../../src/delivery/ws.adapter';
import { EventBus } from '../../src/events/event-bus';
import { cameraStatusEvent } from '../../src/ingest/camera-events';
import { StorageModule } from '../../src/storage/storage.module';

class FakeError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Keeps cameras in a Map. Like ingest, it redacts passwords in `url` unless `leakUrls` (to test delivery's net). */
export class FakeCameraApi implements CameraApi {
  readonly cameras = new Map<string, CameraView>();
  /** Published on the bus as `camera.status`, as ingest's CameraEvents does with CameraService.status$. */
  readonly status$ = new Subject<CameraStatus>();
  readonly frames$ = new Subject<Frame>();
  readonly pushed: { cameraId: string; bytes: number }[] = [];
  readonly closedBrowser: string[] = [];
  leakUrls = false;
  private n = 0;

  add(input: CameraInput): CameraView {
    if (!/^(rtsp|rtsps|http|https|file|device):\/\//.test(input.url)) {
      throw new FakeError('invalid_url', `unsupported camera URL scheme`);
    }
    const url = this.leakUrls ? input.url : input.url.replace(/\/\/[^/@]*@/, '//***@');
    if ([...this.cameras.values()].some((c) => c.name === input.name)) throw new FakeError('conflict', 'name taken');
    const id = `cam${++this.n}`;
    const view: CameraView = {
      id,
      name: input.name ?? id,
      url,
      kind: input.url.startsWith('rtsp') ? 'rtsp' : 'file',
      fps: input.fps ?? 10,
      loop: input.loop ?? false,
      userId: null,
      status: 'connecting',
    };
    this.cameras.set(id, view);
    return view;
  }
  remove(id: string): void {
    if (!this.cameras.delete(id)) throw new FakeError('not_found', `no camera ${id}`);
  }
  list(): CameraView[] {
    return [...this.cameras.values()];
  }
  get(id: string): CameraView | undefined {
    return this.cameras.get(id);
  }
  retry(id: string): void {
    const c = this.cameras.get(id);
    if (!c) throw new FakeError('not_found', `no camera ${id}`);
    c.status = 'connecting';
  }
  openBrowserCamera(name?: string, fps?: number): BrowserCamera {
    const view = this.add({ url: 'file:///browser', name: name ?? `browser${this.n + 1}`, fps });
    view.kind = 'browser';
    return {
      id: view.id,
      // Like ingest: never throws; an undecodable frame resolves `rejected` (here: one that contains "BAD").
      push: async (image) => {
        if (image.includes('BAD')) return { status: 'rejected', error: new FakeError('bad_message', 'frame could not be decoded') };
        this.pushed.push({ cameraId: view.id, bytes: image.length });
        return { status: 'decoded' };
      },
      close: () => {
        this.closedBrowser.push(view.id);
        this.cameras.delete(view.id);
      },
    };
  }
}

/** The pipeline's output: what is pushed here is published on the bus, as PipelineService does. */
export class FakeEventSource {
  readonly events$ = new Subject<PipelineEvent>();
}

export interface TestServer {
  app: INestApplication;
  config: Config;
  url: string;
  wsUrl: string;
  cameras: FakeCameraApi;
  events: FakeEventSource;
  close(): Promise<void>;
}

/**
 * Starts the delivery module on 127.0.0.1:<random> behind the production HTTP edge (configureHttpEdge). `env`
 * overrides config (tokens, limits); `beforeListen` may add to the app (a test serves a built dashboard).
 */
export async function startTestServer(
  env: Record<string, string> = {},
  beforeListen?: (app: NestExpressApplication) => void,
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'iex-e2e-'));
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, ...env });
  const cameras = new FakeCameraApi();
  const events = new FakeEventSource();
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(config), StorageModule, DeliveryModule.forRoot()],
  })
    .overrideProvider(CAMERA_API)
    .useValue(cameras)
    .compile();
  const bus = moduleRef.get(EventBus);
  const bridge = new Subscription();
  bridge.add(events.events$.subscribe((e) => bus.emit(e)));
  bridge.add(cameras.status$.subscribe((s) => bus.publish('camera.status', cameraStatusEvent(s))));
  const app = moduleRef.createNestApplication<NestExpressApplication>({ ...HTTP_EDGE_OPTIONS, logger: false });
  configureHttpEdge(app);
  app.useWebSocketAdapter(new GatewayWsAdapter(app));
  setupOpenApi(app);
  beforeListen?.(app);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  return {
    app,
    config,
    url,
    wsUrl: `ws://127.0.0.1:${address.port}/ws`,
    cameras,
    events,
    async close() {
      bridge.unsubscribe();
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type Received = ServerMessage | { type: 'binary'; data: Buffer };

/** A `ws` client that queues what it receives; `next()` waits for the next message matching a predicate. */
export class TestClient {
  readonly received: Received[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: { pred: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];
  private closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const m: Received = isBinary
        ? { type: 'binary', data: data as Buffer }
        : (JSON.parse(data.toString()) as ServerMessage);
      const i = this.waiters.findIndex((w) => w.pred(m));
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(m);
      else this.received.push(m);
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.closeWaiters) w(this.closed);
    });
  }

  static async connect(url: string, options: WebSocket.ClientOptions & { protocols?: string[] } = {}): Promise<TestClient> {
    const ws = new WebSocket(url, options.protocols, options);
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  }

  /** The next message matching `pred` (default: any), from the queue or as it arrives. */
  next<T extends Received = Received>(pred: (m: Received) => boolean = () => true, timeoutMs = 3000): Promise<T> {
    const i = this.received.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.received.splice(i, 1)[0] as T);
    return new Promise<T>((resolve, reject) => {
      const w = {
        pred,
        resolve: (m: Received) => {
          clearTimeout(timer);
          resolve(m as T);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no matching message within ${timeoutMs} ms; queued: ${JSON.stringify(this.received.slice(-5))}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /**
   * Sends a command with `id` and waits for its ack or error. Every command is answered, so the wait only bounds a
   * failure: 15 s, not next()'s 3 s — on a loaded CI machine with cameras streaming, an ack (camera.add, user.create)
   * took over 3 s.
   */
  async request<T extends Received = Received>(msg: Record<string, unknown> & { id: string }, timeoutMs = 15_000): Promise<T> {
    this.send(msg);
    return this.next<T>((m) => (m.type === 'ack' || m.type === 'error') && m.id === msg.id, timeoutMs);
  }

  waitClose(timeoutMs = 3000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket not closed')), timeoutMs);
      this.closeWaiters.push((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  close(): void {
    this.ws.close();
  }
}
