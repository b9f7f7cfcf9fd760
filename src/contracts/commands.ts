/** What clients send over the WebSocket: every command, its scope, and the fields of its ack. */
import { z } from 'zod';
import { CameraInputSchema, type CameraView } from './cameras';
import { LabelSchema } from './labels';
import { CALIBRATION_STYLES, type CalibrationPlanView, type FaceView, type FinetuneJobView, type UserView } from './personalization';
import type { Scope } from './scopes';

const id = z.string().min(1).max(128);
const name = z.string().trim().min(1).max(100);
const cameraRef = z.string().min(1).max(64);

// ---- client -> server ---------------------------------------------------------------------------------------------

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
      /**
       * One round per style (default ['natural']): each round walks every label. Repeats are dropped. A literal bound:
       * reading CALIBRATION_STYLES.length here keeps every schema, and zod, in the SDK's bundle (sdk-package.spec).
       */
      styles: z.array(z.enum(CALIBRATION_STYLES)).min(1).max(8).optional(),
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
  /** Enrol a face for recognition from a photo (base64 JPEG/PNG/…, within WS_MAX_TEXT_BYTES); x,y: inside the face to
   * use when the photo shows several. The same checks and typed errors as POST /api/users/:id/faces. */
  z
    .object({
      type: z.literal('face.enrol'),
      id,
      userId: cameraRef,
      image: z.string().min(1).max(64 * 1024 * 1024),
      x: z.number().nonnegative().optional(),
      y: z.number().nonnegative().optional(),
    })
    .strict(),
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;
export type ClientMessageType = ClientMessage['type'];
export type CommandOf<T extends ClientMessageType> = Extract<ClientMessage, { type: T }>;

export const CLIENT_MESSAGE_TYPES = ClientMessageSchema.options.map((o) => o.shape.type.value) as ClientMessageType[];

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
  'face.enrol': 'admin',
};

/**
 * The fields of each command's ack beside `type` and `id`. The gateway's handlers are checked against this map
 * (test/e2e/sdk-real-server.spec.ts checks every handler's return type against it at compile time) and clients/sdk types
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
  'face.enrol': { face: FaceView };
}
