import type {
  CameraView,
  ClientMessage,
  ClientMessageType,
  CommandOf,
  ServerMessage,
  UserView,
} from '../../../src/delivery/protocol';

export type * from '../../../src/delivery/protocol';

/** Messages the server pushes unprompted (everything but acks and correlated errors). */
export type ServerEvent = Exclude<ServerMessage, { type: 'ack' }>;
export type ServerEventType = ServerEvent['type'];
export type EventOf<T extends ServerEventType> = Extract<ServerEvent, { type: T }>;
export type ExpressionEvent = EventOf<'expression'>;

/** A command's body: the protocol message without `type` and `id` (the client fills those in). */
export type CommandBody<T extends ClientMessageType> = Omit<CommandOf<T>, 'type' | 'id'>;
export type { ClientMessage, ClientMessageType };

/**
 * What each ack carries beside `type` and `id`. The protocol types acks loosely (`[key: string]: unknown`); these are
 * the fields the SDK and dashboard read, all optional because a server may add or omit them.
 * TODO(protocol): move this map into src/delivery/protocol.ts so the gateway is checked against it.
 */
export interface AckPayloads {
  auth: { scope?: 'read' | 'admin' };
  subscribe: { cameras?: string[] | '*' };
  unsubscribe: Record<string, never>;
  'camera.add': { camera?: CameraView; cameraId?: string };
  'camera.remove': Record<string, never>;
  'camera.list': { cameras?: CameraView[] };
  'camera.retry': Record<string, never>;
  'browser.open': { cameraId: string; channel: number; camera?: CameraView };
  'user.create': { user?: UserView; userId?: string };
  'user.rename': { user?: UserView };
  'user.delete': Record<string, never>;
  'user.list': { users?: UserView[] };
  'camera.bind': Record<string, never>;
  'track.assign': Record<string, never>;
  'calibration.start': Record<string, never>;
  'calibration.cancel': Record<string, never>;
  'finetune.start': { version?: number };
  'model.activate': { version?: number };
}
export type AckOf<T extends ClientMessageType> = { type: 'ack'; id: string } & Partial<AckPayloads[T]> &
  Record<string, unknown>;
