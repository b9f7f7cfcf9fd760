import type { CameraKind } from '../../contracts/cameras';

/** Kinds that are persisted: browser cameras are ephemeral and never stored. */
export type StoredCameraKind = Exclude<CameraKind, 'browser'>;

/** A persisted camera. `url` is stored as given (credentials included) and must be redacted before display. */
export interface CameraRecord {
  id: string;
  name: string;
  url: string;
  kind: StoredCameraKind;
  fps: number;
  loop: boolean;
  transport: 'tcp' | 'udp';
  userId: string | null;
  createdAt: number;
}

/**
 * Port (and Nest token) for stored cameras; StorageModule binds it to SqliteCameraRepository. Browser cameras are
 * ephemeral and never stored. Synchronous, like the one local SQLite connection behind it: a replicated store (several
 * nodes, NATS) will need Promise returns, which is the next step (docs/ARCHITECTURE.md, "Storage ports").
 */
export abstract class CameraRepository {
  abstract insert(c: CameraRecord): void;
  abstract get(id: string): CameraRecord | undefined;
  /** Oldest first (created_at, then id). */
  abstract list(): CameraRecord[];
  /** true when a row was deleted. */
  abstract delete(id: string): boolean;
  /** true when the camera exists (its user is set, or cleared with null). */
  abstract setUser(id: string, userId: string | null): boolean;
}
