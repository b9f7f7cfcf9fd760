import type { GrayImage } from '../contracts/faces';
import type { Frame } from '../contracts/frames';
import type { Box } from '../contracts/geometry';
import type { Detection } from '../inference/yunet.decode';


/** One face moving through the stages of a batch. */
export interface FaceWork {
  detection: Detection;
  trackId: number;
  /** Set by the crop stage, or already by the detector (analyze()). */
  crop48?: Uint8Array;
  region?: Box;
  cropLarge?: GrayImage;
  /** 2048 trunk features, when the detector computed them (analyze()); else the classify stage runs the trunk. */
  features?: Float32Array;
  userId: string | null;
  personalized: boolean;
  /** Probabilities in LABEL_NAMES order (after softmax, then smoothing). */
  probs?: Float32Array;
}

export interface FrameWork {
  frame: Frame;
  faces: FaceWork[];
  entered: number[];
  left: number[];
}

/** Error raised inside a stage, so the counters can say which stage failed. */
export class StageError extends Error {
  constructor(
    readonly stage: string,
    cause: unknown,
  ) {
    super(`${stage}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
