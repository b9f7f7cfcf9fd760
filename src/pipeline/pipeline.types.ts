import type { Box, ServerMessage } from '../delivery/protocol';
import type { CropRule } from '../inference/face-crop';
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
  cropLarge?: GrayImage;
}

export interface GrayImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** What analyze() should do beyond detection. */
export interface AnalyzeRequest {
  crop: CropRule;
  /** > 0: also a gray crop of up to this side (calibration's blur check); 0: none. */
  largeSide: number;
  /** Also run the trunk on the 48x48 crops. */
  features: boolean;
}

/** One face as analyze() returns it: detection, crop, and (when asked) its 2048 trunk features. */
export interface AnalyzedFace {
  detection: Detection;
  region: Box;
  crop48: Uint8Array;
  cropLarge?: GrayImage;
  features?: Float32Array;
}

/** The ports the pipeline needs; the real classes are in src/inference, tests pass fakes. */
export interface FaceDetector {
  detect(images: readonly BgrImage[]): Promise<Detection[][]>;
  /**
   * Optional: detection, crops and trunk features in one call, where the detector can do it off the main thread (the
   * inference pool's workers). The pipeline then skips its own crop and trunk work for these faces.
   */
  analyze?(images: readonly BgrImage[], request: AnalyzeRequest): Promise<AnalyzedFace[][]>;
}
export interface FeatureExtractor {
  features(faces: readonly Uint8Array[]): Promise<Float32Array>;
}

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
