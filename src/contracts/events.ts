/**
 * Events: what the server's rooms publish (pipeline, ingest, personalization) and clients receive pushed over the
 * WebSocket. Each payload is a plain, JSON-serialisable object whose `type` is its event name on the wire; no object
 * references (connections, buffers) are part of one, so an event can cross a process or a network transport as is.
 */
import type { CameraState } from './cameras';
import type { ErrorCode } from './errors';
import type { FaceIdentity, FaceObservation, FaceResult } from './faces';
import type { LabelName } from './labels';
import type { CalibrationStyle, FinetuneMetrics } from './personalization';

// ---- pipeline ---------------------------------------------------------------------------------------------------

/** One processed frame of a camera: every face in it, classified. */
export type ExpressionEvent = {
  type: 'expression';
  cameraId: string;
  frameId: number;
  ts: number;
  latencyMs: number;
  width: number;
  height: number;
  faces: FaceResult[];
};
/** `personalized` and `identity` as in FaceResult (absent when IDENTITY=off). */
export type FaceEnterEvent = {
  type: 'face.enter';
  cameraId: string;
  trackId: number;
  ts: number;
  userId: string | null;
  personalized?: boolean;
  identity?: FaceIdentity | null;
};
export type FaceLeaveEvent = { type: 'face.leave'; cameraId: string; trackId: number; ts: number; userId: string | null };

/** Face recognition changed its mind about an open track (a better frame, a gallery change): the user it now resolves
 * to, and the one before. Only when face recognition is on (IDENTITY=face) and either identity came from the face. */
export type IdentityChangedEvent = {
  type: 'identity.changed';
  cameraId: string;
  trackId: number;
  ts: number;
  userId: string | null;
  previousUserId: string | null;
  identity: FaceIdentity | null;
};

/** What the pipeline emits. */
export type PipelineEvent = ExpressionEvent | FaceEnterEvent | FaceLeaveEvent | IdentityChangedEvent;

// ---- cameras ----------------------------------------------------------------------------------------------------

export type CameraStatusEvent = { type: 'camera.status'; cameraId: string; state: CameraState; reason?: string; fps?: number; ts: number };
export type CameraRemovedEvent = { type: 'camera.removed'; cameraId: string };

export type CameraEvent = CameraStatusEvent | CameraRemovedEvent;

// ---- calibration and fine-tuning --------------------------------------------------------------------------------

/** `index`/`of`: the label within its round; `round`/`rounds`: which of the plan's styles (0-based) is asked for. */
export type CalibrationPromptEvent = {
  type: 'calibration.prompt';
  userId: string;
  label: LabelName;
  index: number;
  of: number;
  style: CalibrationStyle;
  round: number;
  rounds: number;
  secondsLeft: number;
};
export type CalibrationSampleEvent = {
  type: 'calibration.sample';
  userId: string;
  label: LabelName;
  status: 'accepted' | 'rejected';
  reason?: 'blurred' | 'too_small' | 'duplicate' | 'no_face' | 'several_faces';
  /** This session's accepted samples of `label`, all rounds together. */
  count: number;
  /**
   * Accepted only: whether the sample's face was also enrolled in the user's gallery (docs/IDENTITY.md "Enrolment").
   * false: the sample is stored, but its face gave no usable embedding (`notEnrolled`: the identity quality gate's
   * 'small' | 'pose' | 'blurred', or 'unavailable' — IDENTITY=off, or the frame was cut before the capture asked).
   */
  enrolled?: boolean;
  notEnrolled?: 'small' | 'pose' | 'blurred' | 'unavailable';
};
export type CalibrationCapturedEvent = { type: 'calibration.captured'; userId: string; counts: Partial<Record<LabelName, number>> };
export type FinetuneProgressEvent = {
  type: 'finetune.progress';
  userId: string;
  epoch: number;
  of: number;
  loss: number;
  accuracy: number;
  etaSeconds: number;
};
export type ModelUpdatedEvent = { type: 'model.updated'; userId: string; version: number; metrics: FinetuneMetrics; active: boolean };
export type FinetuneFailedEvent = { type: 'finetune.failed'; userId: string; code: ErrorCode; message: string };

/** Internal: a user's enrolled faces changed (a face added or removed, or the user deleted), after the store committed.
 * The live face matcher reloads that user's gallery from the FaceGallery port. */
export type GalleryChangedEvent = { userId: string };

/** Internal: a user and their samples and models are gone; privacy requires the rest of their data to follow. */
export type UserDeletedEvent = { userId: string };

/** What calibration and fine-tuning emit. */
export type PersonalizationEvent =
  | CalibrationPromptEvent
  | CalibrationSampleEvent
  | CalibrationCapturedEvent
  | FinetuneProgressEvent
  | ModelUpdatedEvent
  | FinetuneFailedEvent;

// ---- the event bus (src/events) ---------------------------------------------------------------------------------

/**
 * Every event the server's rooms exchange on the EventBus: name → payload. A client-facing event is named by its wire
 * `type` (one convention: the name a client already knows), and its payload is the message as sent. Server-internal
 * events have a name no client sees.
 */
export interface EventMap {
  expression: ExpressionEvent;
  'face.enter': FaceEnterEvent;
  'face.leave': FaceLeaveEvent;
  'identity.changed': IdentityChangedEvent;
  'camera.status': CameraStatusEvent;
  'camera.removed': CameraRemovedEvent;
  'calibration.prompt': CalibrationPromptEvent;
  'calibration.sample': CalibrationSampleEvent;
  'calibration.captured': CalibrationCapturedEvent;
  'finetune.progress': FinetuneProgressEvent;
  'finetune.failed': FinetuneFailedEvent;
  'model.updated': ModelUpdatedEvent;
  /** Internal: a face's crops as the pipeline cut them (calibration capture). Published only while someone listens. */
  'face.observed': FaceObservation;
  /** Internal: a user was deleted (rows committed); whatever keeps data about them (history) forgets it. */
  'user.deleted': UserDeletedEvent;
  /** Internal: the FaceGallery rows of `userId` changed (committed); the live matcher reloads them. */
  'gallery.changed': GalleryChangedEvent;
}
export type EventName = keyof EventMap;

/** The names of the events clients receive: those whose payload is a message of that `type`. */
export type ClientEventName = { [K in EventName]: EventMap[K] extends { type: K } ? K : never }[EventName];
/** A client-facing event's payload (= a pushed ServerMessage). */
export type ClientEvent = EventMap[ClientEventName];

/** What travels beside a payload. Plain data, like the payload: a transport copies it as is. */
export interface EventMeta {
  /** Publish time, ms since epoch (the bus sets it when the publisher does not). */
  ts: number;
  /** The connection (Connection.id) whose command caused the event: it gets the event whatever it subscribed to. */
  originId?: string;
  /** The cameras the event concerns, for events whose payload has no `cameraId` (calibration, fine-tuning). */
  cameraIds?: string[];
  /** The server that published it, once there are several. */
  node?: string;
}

/** A subject token from free text: no `.` (token separator), no `*`/`>` (wildcards), no whitespace; injective. */
function subjectToken(text: string): string {
  return encodeURIComponent(text).replace(/[.*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The subject an event is published on by a networked transport (NATS): `iex.v1.cam.<cameraId>.<name>` for an event
 * about one camera (its payload has a `cameraId`), else `iex.v1.<name>`. One camera's events share a sub-tree, so a
 * transport that orders per subject tree keeps face.leave before that camera's camera.removed.
 */
export function subjectOf<K extends EventName>(name: K, payload: EventMap[K]): string {
  const cameraId = (payload as { cameraId?: unknown }).cameraId;
  return typeof cameraId === 'string' ? `iex.v1.cam.${subjectToken(cameraId)}.${name}` : `iex.v1.${name}`;
}

/**
 * Where an event travels when several nodes form a cluster: `cluster` events are also sent to the other nodes (on
 * `subjectOf`), `node` events stay in the process that published them. face.observed carries a face's crop bytes many
 * times a second and only the camera's own node calibrates with them. The mapped type makes tsc fail when an event is
 * added to EventMap without deciding (the index signature only tolerates an entry whose event is still on its way).
 */
export type EventScope = 'cluster' | 'node';
export const EVENT_SCOPE: { readonly [K in EventName]: EventScope } & { readonly [name: string]: EventScope } = {
  expression: 'cluster',
  'face.enter': 'cluster',
  'face.leave': 'cluster',
  'identity.changed': 'cluster',
  'camera.status': 'cluster',
  'camera.removed': 'cluster',
  'calibration.prompt': 'cluster',
  'calibration.sample': 'cluster',
  'calibration.captured': 'cluster',
  'finetune.progress': 'cluster',
  'finetune.failed': 'cluster',
  'model.updated': 'cluster',
  'face.observed': 'node',
  // About shared data (users and galleries are cluster-wide once state is replicated): every node's caches follow.
  'user.deleted': 'cluster',
  'gallery.changed': 'cluster',
};
