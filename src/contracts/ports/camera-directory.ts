/**
 * The cameras as rooms other than ingest need them (personalization's identity resolver: which user a camera
 * belongs to). Bound to ingest's CameraService in AppModule. Server-only.
 */
import type { CameraView } from '../cameras';

export interface CameraDirectory {
  /** Throws `{ code: 'not_found' }` for an unknown camera. */
  get(id: string): CameraView;
  list(): CameraView[];
  /** Binds a camera to a user (null: unbinds); throws `{ code: 'not_found' }` for an unknown camera. */
  setUser(id: string, userId: string | null): CameraView;
}
export const CAMERA_DIRECTORY = Symbol('CAMERA_DIRECTORY');
