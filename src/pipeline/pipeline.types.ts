import type { FaceEnrolment, FaceIdentity, GrayImage } from '../contracts/faces';
import type { Frame } from '../contracts/frames';
import type { Box } from '../contracts/geometry';
import type { PreparedFace } from '../inference/embedding/identify-faces';
import type { FaceRecognition } from '../inference/face.recognizer';
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
  /** When the identity scheduler asked for this face: its aligned views, or why this frame was not used (IDENTITY=face). */
  identity?: PreparedFace;
  /** This face's embedding when it was made here anyway (the face was also enrolled): recorded without another run. */
  identityEmbedding?: Float32Array;
  /** When calibration asked for this camera's faces (FaceObservationDemand): its aligned views, or why not. */
  toEnrol?: PreparedFace;
  /** toEnrol embedded (embedEnrolments): aligned crop + embedding, or why not. */
  enrolment?: FaceEnrolment;
  /** The recogniser's current decision for this face's track (from its recent embeddings), if any. */
  recognition?: FaceRecognition | null;
  userId: string | null;
  personalized: boolean;
  /** Why `userId` (the HeadResolver's precedence); null = nobody. */
  resolved?: FaceIdentity | null;
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
