/**
 * A scripted WebSocket stand-in for the SDK's client mechanics that a real server does not produce on cue: a network
 * drop or a restart at a chosen moment, a steady stream of events and previews, commands in flight when the socket
 * goes. It speaks the real protocol (types and schema from src/contracts) with synthetic faces, and nothing more:
 * no auth, no REST, no validation beyond the message schema. Everything else is tested against the real server
 * (test/e2e/sdk-real-server.spec.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { type ClientMessage, ClientMessageSchema } from '../../src/contracts/commands';
import type { CameraState } from '../../src/contracts/cameras';
import type { FaceResult } from '../../src/contracts/faces';
import { LABEL_NAMES, type LabelName } from '../../src/contracts/labels';
import type { ServerMessage } from '../../src/contracts/messages';
import { encodePreview, WS_SUBPROTOCOL } from '../../src/contracts/wire';

export interface FakeWsServerOptions {
  /** Bytes sent as the preview of every camera to connections subscribed with `preview: true`. */
  previewJpeg?: Buffer;
  /** Expression events per second per camera. Default 5. */
  eventFps?: number;
}

interface Conn {
  ws: WebSocket;
  cameras: Set<string>;
  all: boolean;
  preview: Set<string>;
  previewAll: boolean;
}

interface FakeCamera {
  id: string;
  state: CameraState;
  frameId: number;
  timer?: ReturnType<typeof setInterval>;
}

const WIDTH = 640;
const HEIGHT = 480;

function scoresFor(label: LabelName, strength = 0.8): Record<LabelName, number> {
  const rest = (1 - strength) / (LABEL_NAMES.length - 1);
  return Object.fromEntries(LABEL_NAMES.map((l) => [l, l === label ? strength : rest])) as Record<LabelName, number>;
}

export class FakeWsServer {
  /** Every client message, in arrival order. */
  readonly received: ClientMessage[] = [];
  private readonly cameras = new Map<string, FakeCamera>();
  private readonly connections = new Set<Conn>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private http: Server | null = null;
  private wss: WebSocketServer | null = null;
  private nextCamera = 1;
  private port = 0;

  constructor(private readonly options: FakeWsServerOptions = {}) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens on 127.0.0.1 (the same port again after a restart); cameras added before resume streaming. */
  async start(): Promise<this> {
    const http = createServer((_req, res) => res.writeHead(404).end());
    // Echo a protocol (a browser fails the handshake if the server picks none), the non-secret one when offered.
    const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : ([...p][0] ?? false)) });
    http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws)));
    await new Promise<void>((resolve) => http.listen(this.port, '127.0.0.1', resolve));
    this.port = (http.address() as AddressInfo).port;
    this.http = http;
    this.wss = wss;
    for (const camera of this.cameras.values()) this.stream(camera);
    return this;
  }

  /** Stops listening and drops every connection (cameras are kept, as a real server keeps them in SQLite). */
  async stop(): Promise<void> {
    for (const camera of this.cameras.values()) clearInterval(camera.timer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.dropConnections();
    this.wss?.close();
    await new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
    this.http = null;
  }

  /** Stop, wait, start on the same port: a server restart. */
  async restart(downMs = 200): Promise<void> {
    await this.stop();
    await new Promise((r) => setTimeout(r, downMs));
    await this.start();
  }

  /** Drops every WebSocket without stopping the server (a network blip). */
  dropConnections(): void {
    for (const conn of this.connections) conn.ws.terminate();
    this.connections.clear();
  }

  /** A camera that reports `connecting`, then `streaming` 150 ms later, and one face per frame from then on. */
  addCamera(): { id: string } {
    const camera: FakeCamera = { id: `cam${this.nextCamera++}`, state: 'connecting', frameId: 0 };
    this.cameras.set(camera.id, camera);
    if (this.http) this.stream(camera);
    return { id: camera.id };
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private stream(camera: FakeCamera): void {
    this.publish({ type: 'camera.status', cameraId: camera.id, state: camera.state, ts: Date.now() });
    this.later(150, () => {
      camera.state = 'streaming';
      this.publish({ type: 'camera.status', cameraId: camera.id, state: camera.state, ts: Date.now() });
    });
    camera.timer = setInterval(() => this.frame(camera), 1000 / (this.options.eventFps ?? 5));
  }

  /** One face drifting slowly, its expression cycling through the labels; plus a preview where asked for. */
  private frame(camera: FakeCamera): void {
    const ts = Date.now();
    camera.frameId++;
    const label = LABEL_NAMES[Math.floor(camera.frameId / 10) % LABEL_NAMES.length];
    const size = Math.round(Math.min(WIDTH, HEIGHT) * 0.45);
    const face: FaceResult = {
      trackId: 1,
      box: { x: Math.round((WIDTH - size) / 2 + Math.sin(camera.frameId / 10) * WIDTH * 0.05), y: Math.round((HEIGHT - size) / 2.5), w: size, h: Math.round(size * 1.15) },
      label,
      scores: scoresFor(label),
      confidence: 0.95,
      userId: null,
      personalized: false,
    };
    this.publish({ type: 'expression', cameraId: camera.id, frameId: camera.frameId, ts, latencyMs: 40, width: WIDTH, height: HEIGHT, faces: [face] });
    if (!this.options.previewJpeg) return;
    const preview = encodePreview({ cameraId: camera.id, ts, jpeg: this.options.previewJpeg });
    for (const conn of this.connections) if (conn.previewAll || conn.preview.has(camera.id)) conn.ws.send(preview);
  }

  /** To every connection subscribed to the event's camera. */
  private publish(message: ServerMessage): void {
    const camera = 'cameraId' in message ? (message.cameraId as string) : null;
    const text = JSON.stringify(message);
    for (const conn of this.connections) if (!camera || conn.all || conn.cameras.has(camera)) conn.ws.send(text);
  }

  private accept(ws: WebSocket): void {
    const conn: Conn = { ws, cameras: new Set(), all: false, preview: new Set(), previewAll: false };
    this.connections.add(conn);
    ws.on('close', () => this.connections.delete(conn));
    this.send(conn, { type: 'hello', protocol: 1, authenticated: true, scope: 'admin' });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.command(conn, data.toString());
    });
  }

  private send(conn: Conn, message: ServerMessage): void {
    conn.ws.send(JSON.stringify(message));
  }

  /** subscribe/unsubscribe change what the connection gets; every other valid command is acked with no payload. */
  private command(conn: Conn, text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.send(conn, { type: 'error', id: null, code: 'bad_json', message: 'message is not JSON' });
    }
    const parsed = ClientMessageSchema.safeParse(json);
    if (!parsed.success) {
      const id = typeof (json as { id?: unknown })?.id === 'string' ? (json as { id: string }).id : null;
      return this.send(conn, { type: 'error', id, code: 'bad_message', message: parsed.error.issues.map((i) => i.message).join('; ') });
    }
    const msg = parsed.data;
    this.received.push(msg);
    if (msg.type === 'subscribe' && msg.cameras === '*') {
      conn.all = true;
      conn.previewAll ||= !!msg.preview;
    } else if (msg.type === 'subscribe') {
      for (const c of msg.cameras) {
        conn.cameras.add(c);
        if (msg.preview) conn.preview.add(c);
      }
    } else if (msg.type === 'unsubscribe') {
      if (msg.cameras === '*') conn.all = conn.previewAll = false;
      for (const c of msg.cameras === '*' ? [...conn.cameras] : msg.cameras) {
        conn.cameras.delete(c);
        conn.preview.delete(c);
      }
    }
    this.send(conn, { type: 'ack', id: msg.id ?? '' });
  }
}
