/** Where an enrolled face came from: a labelled sample (upload, calibration, browser frame), a face-only enrolment
 * (`POST /api/users/:id/faces`, WS `face.enrol` with an image) or a face seen live ("this is …": camera + track). */
export type FaceSource = 'sample' | 'enrol' | 'live';

/** Length of one stored embedding (the dlib face descriptor, inference/embedding/face-embedder.ts EMBEDDING_DIM). */
export const FACE_EMBEDDING_DIM = 128;

/** One enrolled face of a user: the embedding the matcher compares against, and where its crop lies. */
export interface FaceRecord {
  id: string;
  userId: string;
  /** L2-normalised, FACE_EMBEDDING_DIM float32 values. */
  embedding: Float32Array;
  /** sha256 of the embedding model that made it (models/manifest.json `faceEmbedding`): embeddings of another model
   * are not comparable, so the gallery loads only the current model's; the crop lets them be recomputed. */
  modelSha: string;
  /** The sample this face was taken from (source 'sample'); null otherwise, or once that sample was deleted. */
  sampleId: string | null;
  source: FaceSource;
  /** BlobStore key of the aligned 150x150 RGB crop (PNG): faces/<userId>/<id>.png. */
  file: string;
  createdAt: number;
}

/**
 * Port (and Nest token) for the face gallery: every enrolled face embedding, per user. StorageModule binds it to
 * SqliteFaceGallery. Write order (FaceStore): the crop blob first, then insert() — the row is the commit point, so a
 * crash leaves at worst a crop without a row (swept at start-up), never a half-written embedding. Deleting a user
 * deletes its faces (in SQLite: ON DELETE CASCADE). Whoever changes it publishes `gallery.changed` {userId} on the
 * EventBus after the commit, so the live matcher reloads. Synchronous for now, like the other repositories: a
 * replicated store will need Promise returns (docs/ARCHITECTURE.md "Storage ports").
 */
export abstract class FaceGallery {
  /** Throws when the user does not exist (in SQLite: a FOREIGN KEY error), or the embedding is not 128 values. */
  abstract insert(f: FaceRecord): void;
  abstract get(id: string): FaceRecord | undefined;
  /** The user's faces, oldest first (created_at, then id). */
  abstract listByUser(userId: string): FaceRecord[];
  /** Every user's faces made by the model `modelSha` (what the live matcher loads), by user then oldest first. */
  abstract listByModel(modelSha: string): FaceRecord[];
  /** How many faces the user has (of `modelSha` only, when given). */
  abstract countByUser(userId: string, modelSha?: string): number;
  /** Every stored crop key, for the start-up sweep of orphaned crops. */
  abstract allFiles(): Set<string>;
  /** true when a row was deleted. */
  abstract delete(id: string): boolean;
}
