/**
 * What the delivery layer needs from the rest of the server, as small interfaces behind injection tokens. The real
 * services (ingest's CameraService, the pipeline) are bound to these in AppModule; tests bind fakes. Events (pipeline
 * output, camera states, calibration and fine-tuning) do not come through here: EventFanout reads them from the
 * EventBus.
 */
import type { Registry } from 'prom-client';
import { NEVER, Observable } from 'rxjs';
import type { CameraInput, CameraView } from '../contracts/cameras';
import type { Frame } from '../contracts/frames';

/** A camera fed by a browser over the WebSocket: frames are JPEG or WebP bytes. */
export interface BrowserCamera {
  id: string;
  /** May answer later: a `rejected` outcome is reported to the client as a typed error, others are silent. */
  push(image: Buffer): void | Promise<BrowserPushOutcome | unknown>;
  /** Stops the camera when its socket goes away; without it the gateway calls CameraApi.remove(id). */
  close?(): void | Promise<void>;
}

export type BrowserPushOutcome = { status: 'rejected'; error: { code: string; message: string } } | { status: string };

type MaybePromise<T> = T | Promise<T>;

/** ingest's CameraService, as delivery uses it. Errors are thrown as IngestError (a CodedError). */
export interface CameraApi {
  add(input: CameraInput): MaybePromise<CameraView>;
  remove(id: string): MaybePromise<unknown>;
  list(): MaybePromise<CameraView[]>;
  /** undefined/null or a thrown not_found when there is no such camera. */
  get(id: string): MaybePromise<CameraView | undefined | null>;
  retry(id: string): MaybePromise<unknown>;
  openBrowserCamera(name?: string, fps?: number): MaybePromise<BrowserCamera>;
  /** Decoded frames of every camera; previews are encoded from them only when a client asked. */
  readonly frames$: Observable<Frame>;
}
export const CAMERA_API = Symbol('CAMERA_API');

/** The pipeline, as a command target (its output comes over the EventBus). */
export interface PipelineControl {
  /** A camera was removed: end its tracks (publishes face.leave for each) and drop its state. */
  forgetCamera(cameraId: string): void;
}
export const PIPELINE_CONTROL = Symbol('PIPELINE_CONTROL');

/**
 * The users a camera may belong to, as delivery checks them before `camera.add` / POST /api/cameras stores a
 * `userId`. Bound to personalization's IdentityResolver, whose requireUser is also camera.bind's check.
 * Throws `{ code: 'not_found' }` for an unknown user.
 */
export interface UserDirectoryApi {
  requireUser(userId: string): void;
}
export const USER_DIRECTORY = Symbol('USER_DIRECTORY');

class NotFoundError extends Error {
  readonly code = 'not_found' as const;
}

/** Bound when no user store is wired: there are no users, so every userId is unknown. */
export const NO_USERS: UserDirectoryApi = {
  requireUser: (userId) => {
    throw new NotFoundError(`no user ${JSON.stringify(userId.slice(0, 64))} (users are not available on this server)`);
  },
};

/** Extra prom-client registries to expose on /metrics beside the default one and delivery's (e.g. the pipeline's). */
export const METRICS_REGISTRIES = Symbol('METRICS_REGISTRIES');
export type MetricsRegistries = Registry[];

class UnavailableError extends Error {
  readonly code = 'unavailable' as const;
}

/** Bound until ingest is wired: every call answers `unavailable`. */
export const UNAVAILABLE_CAMERA_API: CameraApi = {
  add: () => Promise.reject(new UnavailableError('cameras are not available on this server')),
  remove: () => Promise.reject(new UnavailableError('cameras are not available on this server')),
  list: () => [],
  get: () => null,
  retry: () => Promise.reject(new UnavailableError('cameras are not available on this server')),
  openBrowserCamera: () => Promise.reject(new UnavailableError('browser cameras are not available on this server')),
  frames$: NEVER,
};

/** Bound when no pipeline is wired: there are no tracks to close. */
export const NO_PIPELINE: PipelineControl = { forgetCamera: () => undefined };
