/**
 * A stand-in iExpressionNet server for client tests: speaks the real protocol (types from src/contracts)
 * over node http + ws, with synthetic faces. It is deliberately small and deterministic; it is not the gateway.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { type CameraView, type ClientMessage, ClientMessageSchema, encodePreview, type FaceResult, LABEL_NAMES, type LabelName, type ServerMessage, type UserView, WS_SUBPROTOCOL } from '../../../src/contracts';

export interface FakeServerOptions {
  /** Required token; null disables auth. Default 'secret'. */
  token?: string | null;
  /** Serve this directory at `/` (the built dashboard). */
  staticDir?: string;
  /** JPEG sent as the preview of every non-browser camera. */
  previewJpeg?: Buffer;
  /** Expression events per second per camera. Default 5. */
  eventFps?: number;
  port?: number;
  /** Seconds per calibration label. Default 1. */
  secondsPerLabel?: number;
}

interface Conn {
  ws: WebSocket;
  authed: boolean;
  subscribed: Set<string>;
  all: boolean;
  preview: Set<string>;
  previewAll: boolean;
  channels: Map<number, string>;
}

interface FakeCamera extends CameraView {
  timer?: ReturnType<typeof setInterval>;
  frameId: number;
  width: number;
  height: number;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
};

/** Width and height from a JPEG's SOF marker, or null. */
export function jpegSize(buf: Buffer): { width: number; height: number } | null {
  let i = 2;
  while (i + 9 < buf.length) {
    if (buf[i] !== 0xff) return null;
    const marker = buf[i + 1];
    const length = buf.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    }
    i += 2 + length;
  }
  return null;
}

function scoresFor(label: LabelName, strength = 0.8): Record<LabelName, number> {
  const rest = (1 - strength) / (LABEL_NAMES.length - 1);
  return Object.fromEntries(LABEL_NAMES.map((l) => [l, l === label ? strength : rest])) as Record<LabelName, number>;
}

export class FakeServer {
  readonly received: ClientMessage[] = [];
  /** Binary frames received per browser camera id. */
  readonly framesReceived = new Map<string, number>();
  readonly cameras = new Map<string, FakeCamera>();
  readonly users = new Map<string, UserView>();
  readonly models = new Map<string, { version: number; active: boolean; metrics: Record<string, number | null> }[]>();
  readonly connections = new Set<Conn>();
  private http: Server | null = null;
  private wss: WebSocketServer | null = null;
  private nextCamera = 1;
  private nextUser = 1;
  private nextChannel = 1;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  port = 0;

  constructor(readonly options: FakeServerOptions = {}) {}

  get token(): string | null {
    return this.options.token === undefined ? 'secret' : this.options.token;
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const http = createServer((req, res) => void this.handleHttp(req, res));
    const wss = new WebSocketServer({
      noServer: true,
      // Echo a protocol (a browser fails the handshake if the server picks none), the non-secret one when offered.
      handleProtocols: (protocols) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : ([...protocols][0] ?? false)),
    });
    http.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/ws')) return socket.destroy();
      wss.handleUpgrade(req, socket, head, (ws) => this.handleSocket(ws, req));
    });
    await new Promise<void>((resolve) => http.listen(this.options.port ?? this.port, '127.0.0.1', resolve));
    this.port = (http.address() as AddressInfo).port;
    this.http = http;
    this.wss = wss;
    for (const camera of this.cameras.values()) this.startCamera(camera);
    return this;
  }

  /** Stops listening and drops every connection (cameras are kept, as a real server keeps them in SQLite). */
  async stop(): Promise<void> {
    for (const camera of this.cameras.values()) if (camera.timer) clearInterval(camera.timer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const conn of this.connections) conn.ws.terminate();
    this.connections.clear();
    this.wss?.close();
    await new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
    this.http = null;
  }

  /** Stop then start on the same port, like a server restart. */
  async restart(downMs = 200): Promise<void> {
    const port = this.port;
    await this.stop();
    await new Promise((r) => setTimeout(r, downMs));
    this.options.port = port;
    await this.start();
  }

  /** Drops every WebSocket without stopping the server (a network blip). */
  dropConnections(): void {
    for (const conn of this.connections) conn.ws.terminate();
  }

  addCamera(input: { url: string; name?: string; fps?: number; kind?: CameraView['kind'] }): FakeCamera {
    const id = `cam${this.nextCamera++}`;
    const camera: FakeCamera = {
      id,
      name: input.name ?? id,
      url: input.url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@'),
      kind: input.kind ?? (input.url.split(':')[0] as CameraView['kind']),
      fps: input.fps ?? 10,
      loop: false,
      userId: null,
      status: 'connecting',
      frameId: 0,
      width: 640,
      height: 480,
    };
    this.cameras.set(id, camera);
    this.broadcastStatus(camera);
    if (camera.kind !== 'browser') this.startCamera(camera);
    return camera;
  }

  /** Sends an event to every authenticated connection subscribed to its camera. */
  publish(message: ServerMessage): void {
    const camera = 'cameraId' in message ? (message.cameraId as string) : null;
    const text = JSON.stringify(message);
    for (const conn of this.connections) {
      if (!conn.authed) continue;
      if (camera && !conn.all && !conn.subscribed.has(camera)) continue;
      conn.ws.send(text);
    }
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private startCamera(camera: FakeCamera): void {
    const previewSize = this.options.previewJpeg ? jpegSize(this.options.previewJpeg) : null;
    if (previewSize) Object.assign(camera, previewSize);
    this.later(150, () => {
      if (!this.cameras.has(camera.id)) return;
      camera.status = 'streaming';
      camera.measuredFps = camera.fps;
      this.broadcastStatus(camera);
    });
    const eventFps = this.options.eventFps ?? 5;
    camera.timer = setInterval(() => this.emitFrame(camera), 1000 / eventFps);
  }

  private emitFrame(camera: FakeCamera, ts = Date.now()): void {
    camera.frameId++;
    const t = camera.frameId / 10;
    // One face drifting slowly, its expression cycling through the labels every 2 s.
    const label = LABEL_NAMES[Math.floor(camera.frameId / 10) % LABEL_NAMES.length];
    const size = Math.round(Math.min(camera.width, camera.height) * 0.45);
    const face: FaceResult = {
      trackId: 1,
      box: {
        x: Math.round((camera.width - size) / 2 + Math.sin(t) * camera.width * 0.05),
        y: Math.round((camera.height - size) / 2.5),
        w: size,
        h: Math.round(size * 1.15),
      },
      label,
      scores: scoresFor(label),
      confidence: 0.95,
      userId: camera.userId,
      personalized: camera.userId !== null && (this.models.get(camera.userId)?.some((m) => m.active) ?? false),
    };
    this.publish({
      type: 'expression',
      cameraId: camera.id,
      frameId: camera.frameId,
      ts,
      latencyMs: 40,
      width: camera.width,
      height: camera.height,
      faces: [face],
    });
    if (camera.kind !== 'browser' && this.options.previewJpeg) {
      const preview = encodePreview({ cameraId: camera.id, ts, jpeg: this.options.previewJpeg });
      for (const conn of this.connections) {
        if (conn.authed && (conn.previewAll || conn.preview.has(camera.id))) conn.ws.send(preview);
      }
    }
  }

  private broadcastStatus(camera: FakeCamera): void {
    this.publish({ type: 'camera.status', cameraId: camera.id, state: camera.status, fps: camera.measuredFps, ts: Date.now() });
  }

  private view(camera: FakeCamera): CameraView {
    const { timer: _t, frameId: _f, width: _w, height: _h, ...view } = camera;
    return view;
  }

  // ---- WebSocket ------------------------------------------------------------------------------------------------

  private handleSocket(ws: WebSocket, req: IncomingMessage): void {
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim());
    const conn: Conn = {
      ws,
      authed: this.token === null || offered.includes(`bearer.${this.token}`),
      subscribed: new Set(),
      all: false,
      preview: new Set(),
      previewAll: false,
      channels: new Map(),
    };
    if (this.token !== null && offered.some((p) => p.startsWith('bearer.')) && !conn.authed) {
      ws.close(4401, 'invalid token');
      return;
    }
    this.connections.add(conn);
    ws.on('close', () => {
      this.connections.delete(conn);
      for (const cameraId of conn.channels.values()) this.removeCamera(cameraId);
    });
    this.send(conn, { type: 'hello', protocol: 1, authenticated: conn.authed, scope: conn.authed ? 'admin' : null });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.handleFrame(conn, data as Buffer);
      this.handleText(conn, data.toString());
    });
  }

  private send(conn: Conn, message: ServerMessage): void {
    conn.ws.send(JSON.stringify(message));
  }

  private handleFrame(conn: Conn, data: Buffer): void {
    if (!conn.authed) return;
    const cameraId = conn.channels.get(data[0]);
    if (!cameraId) return;
    const camera = this.cameras.get(cameraId);
    if (!camera) return;
    this.framesReceived.set(cameraId, (this.framesReceived.get(cameraId) ?? 0) + 1);
    const size = jpegSize(data.subarray(1));
    if (size) Object.assign(camera, size);
    if (camera.status !== 'streaming') {
      camera.status = 'streaming';
      this.broadcastStatus(camera);
    }
    this.emitFrame(camera);
  }

  private handleText(conn: Conn, text: string): void {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.send(conn, { type: 'error', id: null, code: 'bad_json', message: 'message is not JSON' });
    }
    const parsed = ClientMessageSchema.safeParse(json);
    const id = typeof (json as { id?: unknown })?.id === 'string' ? (json as { id: string }).id : null;
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.send(conn, {
        type: 'error',
        id,
        code: 'bad_message',
        message: `${issue.path.join('.') || 'message'}: ${issue.message}`,
      });
    }
    const msg = parsed.data;
    this.received.push(msg);
    if (!conn.authed) {
      if (msg.type === 'auth' && msg.token === this.token) {
        conn.authed = true;
        return this.send(conn, { type: 'ack', id: msg.id ?? '', scope: 'admin' });
      }
      conn.ws.close(4401, msg.type === 'auth' ? 'invalid token' : 'authenticate first');
      return;
    }
    const ack = (extra: Record<string, unknown> = {}): void => this.send(conn, { type: 'ack', id: id!, ...extra });
    const fail = (code: Extract<ServerMessage, { type: 'error' }>['code'], message: string): void =>
      this.send(conn, { type: 'error', id, code, message });
    switch (msg.type) {
      case 'auth':
        return ack({ scope: 'admin' });
      case 'subscribe':
        if (msg.cameras === '*') {
          conn.all = true;
          if (msg.preview) conn.previewAll = true;
        } else {
          const unknown = msg.cameras.find((c) => !this.cameras.has(c));
          if (unknown) return fail('not_found', `camera ${unknown} does not exist`);
          msg.cameras.forEach((c) => conn.subscribed.add(c));
          if (msg.preview) msg.cameras.forEach((c) => conn.preview.add(c));
        }
        return ack({ cameras: msg.cameras });
      case 'unsubscribe':
        if (msg.cameras === '*') {
          conn.all = conn.previewAll = false;
          conn.subscribed.clear();
          conn.preview.clear();
        } else msg.cameras.forEach((c) => (conn.subscribed.delete(c), conn.preview.delete(c)));
        return ack();
      case 'camera.add': {
        const scheme = /^([a-z]+):\/\//i.exec(msg.url)?.[1]?.toLowerCase();
        if (!scheme || !['rtsp', 'http', 'https', 'file', 'device'].includes(scheme)) {
          return fail('invalid_url', `unsupported URL "${msg.url}": use rtsp://, http(s)://, file:// or device://`);
        }
        if (scheme === 'file' && !msg.url.endsWith('.mp4')) return fail('invalid_url', 'file is not a video');
        const camera = this.addCamera({ url: msg.url, name: msg.name, fps: msg.fps });
        return ack({ camera: this.view(camera) });
      }
      case 'camera.remove':
        if (!this.removeCamera(msg.cameraId)) return fail('not_found', `camera ${msg.cameraId} does not exist`);
        return ack();
      case 'camera.list':
        return ack({ cameras: [...this.cameras.values()].map((c) => this.view(c)) });
      case 'camera.retry':
        return this.cameras.has(msg.cameraId) ? ack() : fail('not_found', `camera ${msg.cameraId} does not exist`);
      case 'browser.open': {
        const channel = this.nextChannel++ % 256;
        const camera = this.addCamera({ url: `browser://${channel}`, name: msg.name ?? 'Browser webcam', fps: msg.fps, kind: 'browser' });
        conn.channels.set(channel, camera.id);
        return ack({ cameraId: camera.id, channel, camera: this.view(camera) });
      }
      case 'user.create': {
        if ([...this.users.values()].some((u) => u.name === msg.name)) return fail('conflict', `a user named ${msg.name} exists`);
        const user: UserView = { id: `u${this.nextUser++}`, name: msg.name, activeVersion: null, samples: {} };
        this.users.set(user.id, user);
        return ack({ user });
      }
      case 'user.rename': {
        const user = this.users.get(msg.userId);
        if (!user) return fail('not_found', `user ${msg.userId} does not exist`);
        user.name = msg.name;
        return ack({ user });
      }
      case 'user.delete':
        return this.users.delete(msg.userId) ? ack() : fail('not_found', `user ${msg.userId} does not exist`);
      case 'user.list':
        return ack({ users: [...this.users.values()] });
      case 'camera.bind': {
        const camera = this.cameras.get(msg.cameraId);
        if (!camera) return fail('not_found', `camera ${msg.cameraId} does not exist`);
        if (msg.userId && !this.users.has(msg.userId)) return fail('not_found', `user ${msg.userId} does not exist`);
        camera.userId = msg.userId;
        return ack();
      }
      case 'track.assign': {
        const camera = this.cameras.get(msg.cameraId);
        if (!camera) return fail('not_found', `camera ${msg.cameraId} does not exist`);
        camera.userId = msg.userId;
        return ack();
      }
      case 'calibration.start':
        return this.calibrate(conn, msg, ack, fail);
      case 'calibration.cancel':
        return ack();
      case 'finetune.start':
        return this.finetune(msg, ack, fail);
      case 'model.activate': {
        const versions = this.models.get(msg.userId) ?? [];
        const user = this.users.get(msg.userId);
        if (!user) return fail('not_found', `user ${msg.userId} does not exist`);
        if (msg.version !== 0 && !versions.some((v) => v.version === msg.version)) {
          return fail('not_found', `user ${msg.userId} has no model version ${msg.version}`);
        }
        versions.forEach((v) => (v.active = v.version === msg.version));
        user.activeVersion = msg.version === 0 ? null : msg.version;
        return ack({ version: msg.version });
      }
    }
  }

  private removeCamera(cameraId: string): boolean {
    const camera = this.cameras.get(cameraId);
    if (!camera) return false;
    if (camera.timer) clearInterval(camera.timer);
    this.cameras.delete(cameraId);
    this.publish({ type: 'camera.removed', cameraId });
    return true;
  }

  private calibrate(
    conn: Conn,
    msg: Extract<ClientMessage, { type: 'calibration.start' }>,
    ack: () => void,
    fail: (code: 'not_found', message: string) => void,
  ): void {
    const user = this.users.get(msg.userId);
    if (!user) return fail('not_found', `user ${msg.userId} does not exist`);
    if (!this.cameras.has(msg.cameraId)) return fail('not_found', `camera ${msg.cameraId} does not exist`);
    ack();
    const labels = msg.labels ?? [...LABEL_NAMES];
    const seconds = Math.max(1, Math.round(msg.secondsPerLabel ?? this.options.secondsPerLabel ?? 1));
    const send = (m: ServerMessage): void => {
      if (conn.ws.readyState === conn.ws.OPEN) this.send(conn, m);
    };
    let at = 0;
    labels.forEach((label, index) => {
      for (let left = seconds; left >= 1; left--) {
        this.later(at, () => send({ type: 'calibration.prompt', userId: user.id, label, index, of: labels.length, secondsLeft: left }));
        this.later(at + 300, () => {
          const count = (user.samples[label] ?? 0) + 1;
          user.samples[label] = count;
          send({ type: 'calibration.sample', userId: user.id, label, status: 'accepted', count });
        });
        if (left === seconds) {
          this.later(at + 600, () =>
            send({ type: 'calibration.sample', userId: user.id, label, status: 'rejected', reason: 'blurred', count: user.samples[label] ?? 0 }),
          );
        }
        at += 1000;
      }
    });
    this.later(at, () => send({ type: 'calibration.captured', userId: user.id, counts: { ...user.samples } }));
  }

  private finetune(
    msg: Extract<ClientMessage, { type: 'finetune.start' }>,
    ack: () => void,
    fail: (code: 'not_found' | 'too_few_samples', message: string) => void,
  ): void {
    const user = this.users.get(msg.userId);
    if (!user) return fail('not_found', `user ${msg.userId} does not exist`);
    const missing = LABEL_NAMES.filter((l) => !user.samples[l]);
    if (missing.length > 0) return fail('too_few_samples', `no samples for: ${missing.join(', ')}`);
    ack();
    const epochs = msg.epochs ?? 8;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      this.later(epoch * 150, () =>
        this.publish({
          type: 'finetune.progress',
          userId: user.id,
          epoch,
          of: epochs,
          loss: 1.8 * Math.exp(-epoch / 3) + 0.1,
          accuracy: Math.min(0.97, 0.4 + (0.55 * epoch) / epochs),
          etaSeconds: ((epochs - epoch) * 150) / 1000,
        }),
      );
    }
    this.later((epochs + 1) * 150, () => {
      const versions = this.models.get(user.id) ?? [];
      versions.forEach((v) => (v.active = false));
      const version = versions.length + 1;
      const metrics = { generalAccuracy: 0.54, personalAccuracy: 0.88, heldOut: 14, trainSamples: 56, replaySamples: 700, epochs, seconds: 3.2 };
      versions.push({ version, active: true, metrics });
      this.models.set(user.id, versions);
      user.activeVersion = version;
      this.publish({ type: 'model.updated', userId: user.id, version, metrics, active: true });
    });
  }

  // ---- REST -----------------------------------------------------------------------------------------------------

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    if (url.pathname.startsWith('/api/')) {
      if (this.token !== null && req.headers.authorization !== `Bearer ${this.token}` && url.pathname !== '/api/health') {
        return json(401, { statusCode: 401, error: 'unauthorized', message: 'missing or invalid bearer token' });
      }
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
      const parts = url.pathname.split('/').filter(Boolean); // ['api', ...]
      if (url.pathname === '/api/health') return json(200, { status: 'ok' });
      if (parts[1] === 'cameras') {
        if (req.method === 'GET' && parts.length === 2) return json(200, [...this.cameras.values()].map((c) => this.view(c)));
        if (req.method === 'POST' && parts.length === 2) {
          if (!/^(rtsp|https?|file|device):\/\//.test(body?.url ?? '')) return json(400, { statusCode: 400, error: 'invalid_url', message: 'unsupported URL' });
          return json(201, this.view(this.addCamera(body)));
        }
        const camera = this.cameras.get(parts[2]);
        if (!camera) return json(404, { statusCode: 404, message: `camera ${parts[2]} does not exist`, error: 'not_found' });
        if (req.method === 'GET') return json(200, this.view(camera));
        if (req.method === 'DELETE') {
          this.removeCamera(camera.id);
          res.writeHead(204).end();
          return;
        }
      }
      if (parts[1] === 'users' && parts.length === 2 && req.method === 'GET') return json(200, [...this.users.values()]);
      if (parts[1] === 'users' && parts[3] === 'models' && req.method === 'GET') {
        if (!this.users.has(parts[2])) return json(404, { statusCode: 404, error: 'not_found', message: `user ${parts[2]} does not exist` });
        return json(200, (this.models.get(parts[2]) ?? []).map((m) => ({ userId: parts[2], createdAt: Date.now(), ...m })));
      }
      return json(404, { statusCode: 404, error: 'not_found', message: `${req.method} ${url.pathname}` });
    }
    if (!this.options.staticDir) return json(404, { message: 'no static dir' });
    const rel = normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(this.options.staticDir, rel);
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
    } catch {
      file = join(this.options.staticDir, 'index.html');
    }
    try {
      const content = await readFile(file);
      res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' });
      res.end(content);
    } catch {
      json(404, { message: 'not found' });
    }
  }
}
