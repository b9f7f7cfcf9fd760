import type { Box, ServerMessage } from '../delivery/protocol';
import type { Detection } from '../inference/yunet.decode';
import type { BgrImage } from '../inference/yunet.detector';
import type { Frame } from '../ingest/frame';

/** What the pipeline emits: protocol messages, exactly as the delivery module sends them. */
export type PipelineEvent = Extract<ServerMessage, { type: 'expression' | 'face.enter' | 'face.leave' }>;
export type ExpressionEvent = Extract<PipelineEvent, { type: 'expression' }>;

/** A face as the crop stage saw it (calibration capture subscribes to these). */
export interface FaceObservation {
  cameraId: string;
  frameId: number;
  ts: number;
  trackId: number;
  /** Detector box, source-frame pixels. */
  box: Box;
  /** The square region that was cropped, source-frame pixels. */
  region: Box;
  confidence: number;
  landmarks: number[];
  /** 48x48 uint8 gray, row-major: exactly the classifier's input before /255. */
  crop48: Uint8Array;
  /** Gray crop of the same region at up to 96x96, for a sharpness (blur) check. */
  cropLarge?: { data: Uint8Array; width: number; height: number };
}

/** The ports the pipeline needs; the real classes are in src/inference, tests pass fakes. */
export interface FaceDetector {
  detect(images: readonly BgrImage[]): Promise<Detection[][]>;
}
export interface FeatureExtractor {
  features(faces: readonly Uint8Array[]): Promise<Float32Array>;
}

/** One face moving through the stages of a batch. */
export interface FaceWork {
  detection: Detection;
  trackId: number;
  crop48?: Uint8Array;
  userId: string | null;
  personalized: boolean;
  /** Probabilities in LABELS order (after softmax, then smoothing). */
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
