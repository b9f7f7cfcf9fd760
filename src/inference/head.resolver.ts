/** Classifier heads: the general head, or a per-user head picked for a face by the personalization module. */
import type { FaceIdentity } from '../contracts/faces';
import type { FaceRecognition } from './face.recognizer';

/** Runs a head on `n` feature rows (n x FEATURES floats) and returns n x 7 logits in LABEL_NAMES order. */
export interface HeadRunner {
  run(features: Float32Array, n: number): Promise<Float32Array>;
}

export interface ResolvedHead {
  userId: string | null;
  /** null = use the general head. */
  head: HeadRunner | null;
  /** Why `userId` (which rule of the precedence decided); null or absent = nobody. */
  identity?: FaceIdentity | null;
}

/**
 * Chooses the user, and so the head, for a tracked face. The one place of the precedence: a track assigned by command >
 * the recognised face (`face`: the live recogniser's decision for this track, if any) > the camera's bound user >
 * nobody. Called once per face per frame on the hot path: keep it a map look-up.
 */
export interface HeadResolver {
  resolve(cameraId: string, trackId: number, face?: FaceRecognition | null): ResolvedHead;
}

/** Nest token: the personalization module provides its own resolver under it; the default says "general". */
export const HEAD_RESOLVER = Symbol('HEAD_RESOLVER');

export class GeneralHeadResolver implements HeadResolver {
  resolve(_cameraId: string, _trackId: number, face?: FaceRecognition | null): ResolvedHead {
    // no personal heads here, but a recognised face still names its user (events say who it is)
    return face?.userId ? { userId: face.userId, head: null, identity: faceIdentity(face) } : { userId: null, head: null, identity: null };
  }
}

/** The `identity` of a face recognised by the live recogniser: distance and margin to 3 decimals (margin omitted when
 * infinite: a single enrolled user has no runner-up). */
export function faceIdentity(face: FaceRecognition): FaceIdentity {
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  return {
    source: 'face',
    ...(face.distance !== null ? { distance: r3(face.distance) } : {}),
    ...(Number.isFinite(face.margin) ? { margin: r3(face.margin) } : {}),
  };
}
