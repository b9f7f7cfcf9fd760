/**
 * The WebSocket and REST protocol: one source of truth for the server, clients/sdk and the dashboard.
 * Every message crossing the edge is parsed with these schemas; the TypeScript types are inferred from them.
 * Protocol version: bump PROTOCOL_VERSION when a message changes incompatibly.
 */
import { z } from 'zod';

export const PROTOCOL_VERSION = 1;
export const LABEL_NAMES = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;
export const LabelSchema = z.enum(LABEL_NAMES);
export type LabelName = z.infer<typeof LabelSchema>;

const id = z.string().min(1).max(128);
const name = z.string().trim().min(1).max(100);
const cameraRef = z.string().min(1).max(64);

export const CameraInputSchema = z
  .object({
    url: z.string().min(1).max(2048),
    name: name.optional(),
    fps: z.number().positive().max(60).optional(),
    loop: z.boolean().optional(),
    /** RTSP transport; TCP unless said otherwise. */
    transport: z.enum(['tcp', 'udp']).optional(),
    userId: z.string().min(1).max(64).nullable().optional(),
  })
  .strict();
export type CameraInput = z.infer<typeof CameraInputSchema>;

// ---- client -> server -------------------------------------------------------------------------------------------

export const ClientMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth'), id: id.optional(), token: z.string().min(1).max(512) }).strict(),
  z
    .object({
      type: z.literal('subscribe'),
      id,
      cameras: z.union([z.literal('*'), z.array(cameraRef).max(256)]),
      /** Ask for low-rate JPEG previews of these cameras (binary messages). */
      preview: z.boolean().optional(),
    })
    .strict(),
  z.object({ type: z.literal('unsubscribe'), id, cameras: z.union([z.literal('*'), z.array(cameraRef).max(256)]) }).strict(),
  z.object({ type: z.literal('camera.add'), id }).extend(CameraInputSchema.shape).strict(),
  z.object({ type: z.literal('camera.remove'), id, cameraId: cameraRef }).strict(),
  z.object({ type: z.literal('camera.list'), id }).strict(),
  z.object({ type: z.literal('camera.retry'), id, cameraId: cameraRef }).strict(),
  /** Announce a browser camera: afterwards binary frames are prefixed with its 1-byte channel (see BrowserFrame). */
  z.object({ type: z.literal('browser.open'), id, name: name.optional(), fps: z.number().positive().max(30).optional() }).strict(),
  z.object({ type: z.literal('user.create'), id, name }).strict(),
  z.object({ type: z.literal('user.rename'), id, userId: cameraRef, name }).strict(),
  z.object({ type: z.literal('user.delete'), id, userId: cameraRef }).strict(),
  z.object({ type: z.literal('user.list'), id }).strict(),
  z.object({ type: z.literal('camera.bind'), id, cameraId: cameraRef, userId: cameraRef.nullable() }).strict(),
  z.object({ type: z.literal('track.assign'), id, cameraId: cameraRef, trackId: z.number().int().nonnegative(), userId: cameraRef.nullable() }).strict(),
  z
    .object({
      type: z.literal('calibration.start'),
      id,
      userId: cameraRef,
      cameraId: cameraRef,
      labels: z.array(LabelSchema).min(1).max(7).optional(),
      secondsPerLabel: z.number().positive().max(60).optional(),
      framesPerLabel: z.number().int().positive().max(200).optional(),
    })
    .strict(),
  z.object({ type: z.literal('calibration.cancel'), id, userId: cameraRef }).strict(),
  z
    .object({
      type: z.literal('finetune.start'),
      id,
      userId: cameraRef,
      epochs: z.number().int().positive().max(200).optional(),
    })
    .strict(),
  z.object({ type: z.literal('model.activate'), id, userId: cameraRef, version: z.number().int().nonnegative() }).strict(),
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;
export type ClientMessageType = ClientMessage['type'];
export type CommandOf<T extends ClientMessageType> = Extract<ClientMessage, { type: T }>;

export const CLIENT_MESSAGE_TYPES = ClientMessageSchema.options.map((o) => o.shape.type.value) as ClientMessageType[];

export type Scope = 'read' | 'admin';
/**
 * The scope each command needs. `read` may watch (subscribe, list, previews); everything that changes state is
 * `admin`. A Record over every type: adding a message type without deciding its scope does not compile.
 */
export const COMMAND_SCOPES: Record<ClientMessageType, Scope> = {
  auth: 'read',
  subscribe: 'read',
  unsubscribe: 'read',
  'camera.list': 'read',
  'user.list': 'read',
  'camera.add': 'admin',
  'camera.remove': 'admin',
  'camera.retry': 'admin',
  'browser.open': 'admin',
  'user.create': 'admin',
  'user.rename': 'admin',
  'user.delete': 'admin',
  'camera.bind': 'admin',
  'track.assign': 'admin',
  'calibration.start': 'admin',
  'calibration.cancel': 'admin',
  'finetune.start': 'admin',
  'model.activate': 'admin',
};

// ---- server -> client -------------------------------------------------------------------------------------------

export const ERROR_CODES = [
  'bad_json',
  'bad_message',
  'unknown_type',
  'too_large',
  'rate_limited',
  'unauthorized',
  'forbidden',
  'not_found',
  'invalid_url',
  /** A camera (or webhook) URL whose host is, or resolves to, a link-local or cloud-metadata address (docs/INGEST.md). */
  'destination_forbidden',
  'conflict',
  'no_face',
  'several_faces',
  'too_few_samples',
  /** An upload that is not an image format the server decodes (docs/API.md lists them). */
  'unsupported_image',
  'busy',
  'unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
export type ScoresByLabel = Record<LabelName, number>;

export interface FaceResult {
  trackId: number;
  box: Box;
  label: LabelName;
  scores: ScoresByLabel;
  /** Detector confidence 0..1. */
  confidence: number;
  userId: string | null;
  personalized: boolean;
}

export type CameraStateName = 'connecting' | 'streaming' | 'reconnecting' | 'failed' | 'stopped';

export interface CameraView {
  id: string;
  name: string;
  /** The URL with any password replaced by `***`. */
  url: string;
  kind: 'rtsp' | 'http' | 'file' | 'device' | 'browser';
  fps: number;
  loop: boolean;
  userId: string | null;
  status: CameraStateName;
  reason?: string;
  measuredFps?: number;
}

export interface UserView {
  id: string;
  name: string;
  activeVersion: number | null;
  samples: Partial<Record<LabelName, number>>;
}

export interface ModelVersionView {
  userId: string;
  version: number;
  createdAt: number;
  active: boolean;
  metrics: FinetuneMetrics;
}

/** GET /api/users/:userId/finetune/:jobId: one fine-tune job, kept in memory by the server that runs it. */
export interface FinetuneJobView {
  id: string;
  userId: string;
  /** queued: accepted, the worker is loading; running: epochs under way; done: stored and active; failed: see error */
  state: 'queued' | 'running' | 'done' | 'failed';
  samples: number;
  /** the last epoch reported (as in the finetune.progress event); null before the first */
  progress: { epoch: number; of: number; loss: number; accuracy: number; etaSeconds: number } | null;
  /** done: the stored version, already the active model */
  result: ModelVersionView | null;
  /** failed: the same code and message as the finetune.failed event (a cancelled job: conflict) */
  error: { code: ErrorCode; message: string } | null;
  /** ms epoch */
  createdAt: number;
  finishedAt: number | null;
}

export interface FinetuneMetrics {
  /** Accuracy on the user's held-out samples: general head vs the new personal head. */
  generalAccuracy: number | null;
  personalAccuracy: number | null;
  heldOut: number;
  trainSamples: number;
  replaySamples: number;
  epochs: number;
  seconds: number;
}

export type ServerMessage =
  | { type: 'hello'; protocol: number; authenticated: boolean; scope: 'read' | 'admin' | null }
  | { type: 'ack'; id: string; [key: string]: unknown }
  | { type: 'error'; id: string | null; code: ErrorCode; message: string }
  | {
      type: 'expression';
      cameraId: string;
      frameId: number;
      ts: number;
      latencyMs: number;
      width: number;
      height: number;
      faces: FaceResult[];
    }
  | { type: 'camera.status'; cameraId: string; state: CameraStateName; reason?: string; fps?: number; ts: number }
  | { type: 'camera.removed'; cameraId: string }
  | { type: 'face.enter'; cameraId: string; trackId: number; ts: number; userId: string | null }
  | { type: 'face.leave'; cameraId: string; trackId: number; ts: number; userId: string | null }
  | { type: 'calibration.prompt'; userId: string; label: LabelName; index: number; of: number; secondsLeft: number }
  | {
      type: 'calibration.sample';
      userId: string;
      label: LabelName;
      status: 'accepted' | 'rejected';
      reason?: 'blurred' | 'too_small' | 'duplicate' | 'no_face' | 'several_faces';
      count: number;
    }
  | { type: 'calibration.captured'; userId: string; counts: Partial<Record<LabelName, number>> }
  | { type: 'finetune.progress'; userId: string; epoch: number; of: number; loss: number; accuracy: number; etaSeconds: number }
  | { type: 'model.updated'; userId: string; version: number; metrics: FinetuneMetrics; active: boolean }
  | { type: 'finetune.failed'; userId: string; code: ErrorCode; message: string };

export type ServerMessageType = ServerMessage['type'];

/** What `calibration.start` answers at once: the plan the session will walk (docs/CALIBRATION.md). */
export interface CalibrationPlanView {
  userId: string;
  cameraId: string;
  labels: LabelName[];
  secondsPerLabel: number;
  framesPerLabel: number;
}

/**
 * The fields of each command's ack beside `type` and `id`. The gateway's handlers are checked against this map
 * (test/sdk-real-server.spec.ts checks every handler's return type against it at compile time) and clients/sdk types
 * `command(type)` with it.
 */
export interface AckPayloads {
  auth: { scope: Scope };
  subscribe: { cameras: '*' | string[]; previews: '*' | string[] };
  unsubscribe: { cameras: '*' | string[]; previews: '*' | string[] };
  'camera.add': { camera: CameraView };
  'camera.remove': { cameraId: string };
  'camera.list': { cameras: CameraView[] };
  'camera.retry': { camera: CameraView };
  /** `channel` is the first byte of this camera's binary frames on this connection. */
  'browser.open': { cameraId: string; channel: number };
  'user.create': { user: UserView };
  'user.rename': { user: UserView };
  'user.delete': { userId: string };
  'user.list': { users: UserView[] };
  'camera.bind': { cameraId: string; userId: string | null };
  'track.assign': { cameraId: string; trackId: number; userId: string | null };
  'calibration.start': CalibrationPlanView;
  'calibration.cancel': { userId: string; cancelled: boolean };
  /**
   * Training runs in the background: progress and the result arrive as finetune.* / model.updated events, and
   * GET /api/users/:userId/finetune/:jobId reports them too. The new version is activated when the job is done.
   */
  'finetune.start': { jobId: string; userId: string; samples: number; state: FinetuneJobView['state']; activatesWhenDone: true };
  'model.activate': { userId: string; version: number };
}

/**
 * Binary messages.
 * client -> server: a browser camera frame = [1 byte channel][JPEG or WebP bytes]; the channel comes from the
 *   `browser.open` ack.
 * server -> client: a preview = [1 byte 0x01][2 bytes BE camera id length][camera id utf8][8 bytes BE float64 ts][JPEG].
 */
export const PREVIEW_TAG = 0x01;

/** WebSocket close codes the server uses (4000-4999 are application codes; 4401/4403 mirror HTTP). */
export const CLOSE_CODES = {
  /**
   * No valid token: none in the handshake and no `auth` message before the deadline, a wrong token, or a token that
   * stopped being valid on an open socket (revoked; or the first token was created on an open server). Clients treat
   * it as "sign in again", never as "reconnect with the same token".
   */
  unauthorized: 4401,
  /** The browser's Origin is not this server's and not in ALLOWED_ORIGINS. */
  forbiddenOrigin: 4403,
  /** The server is shutting down. */
  goingAway: 1001,
  /** Over MAX_CONNECTIONS or MAX_CONNECTIONS_PER_IP (RFC 6455's "Try Again Later"): retry with backoff. */
  tryAgainLater: 1013,
} as const;

/** Subprotocol a client offers beside `bearer.<token>` so the server has a non-secret one to select. */
export const WS_SUBPROTOCOL = 'iex.v1';

export interface PreviewFrame {
  cameraId: string;
  /** Capture time of the frame, ms since epoch. */
  ts: number;
  jpeg: Uint8Array;
}

/** Builds a preview binary message (layout above PREVIEW_TAG). Works on Uint8Array so browsers can use it too. */
export function encodePreview(p: PreviewFrame): Uint8Array {
  const id = new TextEncoder().encode(p.cameraId);
  const out = new Uint8Array(1 + 2 + id.length + 8 + p.jpeg.length);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = PREVIEW_TAG;
  view.setUint16(1, id.length);
  out.set(id, 3);
  view.setFloat64(3 + id.length, p.ts);
  out.set(p.jpeg, 11 + id.length);
  return out;
}

/** Parses a preview binary message; null when it is not one. */
export function decodePreview(data: Uint8Array): PreviewFrame | null {
  if (data.length < 11 || data[0] !== PREVIEW_TAG) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = view.getUint16(1);
  if (data.length < 11 + n) return null;
  return {
    cameraId: new TextDecoder().decode(data.subarray(3, 3 + n)),
    ts: view.getFloat64(3 + n),
    jpeg: data.subarray(11 + n),
  };
}
