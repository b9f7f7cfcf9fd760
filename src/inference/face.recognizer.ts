import type { Observable } from 'rxjs';

/**
 * Live face recognition's port: the pipeline embeds faces (off the event loop) and asks a FaceRecognizer who a
 * track's face is; personalization implements it over the enrolled gallery (FaceGallery port + FaceMatcher) and
 * provides it under FACE_RECOGNIZER. Without a provider, or with IDENTITY=off, the pipeline recognises nobody.
 */

/** The recogniser's answer for one track (its recent embeddings together). */
export interface FaceRecognition {
  /** The recognised user, or null (unknown, ambiguous, nobody enrolled). */
  userId: string | null;
  /** Frame-averaged distance to the nearest enrolled user (null when nobody is enrolled). */
  distance: number | null;
  /** (runner-up − nearest) / nearest; Infinity with a single enrolled user. */
  margin: number;
}

export interface FaceRecognizer {
  /** How many users can be recognised: 0 means there is nothing to compare with, so the pipeline embeds nothing. */
  readonly size: number;
  /** Changes whenever the gallery does: a track decided under another version is decided again from its embeddings. */
  readonly version: number;
  /** Decide on several embeddings of the same face (L2-normalised, 128-d, the calibrated views; docs/IDENTITY.md). */
  match(probes: readonly Float32Array[]): FaceRecognition;
  /**
   * Emits the new version after each change of the gallery (once it is reloaded): the pipeline then decides every
   * open track again from the embeddings it has, at once, instead of on the track's next frame. Optional: without
   * it, open tracks are decided again on their next frame (the version check).
   */
  readonly changes?: Observable<number>;
}

/** Nest token: personalization provides the gallery-backed recogniser; absent = no recognition. */
export const FACE_RECOGNIZER = Symbol('FACE_RECOGNIZER');
