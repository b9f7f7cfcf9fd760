/** Classifier heads: the general head, or a per-user head picked for a face by the personalization module. */

/** Runs a head on `n` feature rows (n x FEATURES floats) and returns n x 7 logits in LABEL_NAMES order. */
export interface HeadRunner {
  run(features: Float32Array, n: number): Promise<Float32Array>;
}

export interface ResolvedHead {
  userId: string | null;
  /** null = use the general head. */
  head: HeadRunner | null;
}

/** Chooses the head for a tracked face. Called once per face per frame on the hot path: keep it a map look-up. */
export interface HeadResolver {
  resolve(cameraId: string, trackId: number): ResolvedHead;
}

/** Nest token: the personalization module provides its own resolver under it; the default says "general". */
export const HEAD_RESOLVER = Symbol('HEAD_RESOLVER');

export class GeneralHeadResolver implements HeadResolver {
  resolve(): ResolvedHead {
    return { userId: null, head: null };
  }
}
