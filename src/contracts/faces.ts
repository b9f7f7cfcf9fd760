/** Faces: one classified face as clients receive it, and one observed face as the server's crop stage saw it. */
import type { Box } from './geometry';
import type { LabelName, ScoresByLabel } from './labels';

export interface FaceResult {
  trackId: number;
  box: Box;
  label: LabelName;
  scores: ScoresByLabel;
  /** Detector confidence 0..1. */
  confidence: number;
  userId: string | null;
  personalized: boolean;
  /** Why `userId` is who it is (docs/IDENTITY.md "Precedence"); null = nobody. Absent when IDENTITY=off. */
  identity?: FaceIdentity | null;
}

/**
 * Where a face's user came from, by precedence: a track assigned by command (`track`) > a recognised face (`face`) >
 * the camera's bound user (`camera`). For `face`: the track's frame-averaged embedding distance to that user and the
 * relative margin over the runner-up ((second − nearest) / nearest; absent with a single enrolled user), 3 decimals.
 */
export interface FaceIdentity {
  source: 'track' | 'face' | 'camera';
  distance?: number;
  margin?: number;
}

/** An 8-bit single-channel image, row-major. */
export interface GrayImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A face as the crop stage saw it (calibration capture subscribes to these). Server-internal: never sent to clients. */
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
  /**
   * Only for faces of a camera whose calibration asked for it (FaceObservationDemand): the face aligned and embedded
   * in the inference worker with live recognition's recipe, or why it could not be (the identity quality gate).
   */
  enrolment?: FaceEnrolment;
}

/**
 * A face made ready for the gallery: the aligned 150x150 RGB template crop (packed; the scale-1 view) and its
 * L2-normalised 128-d embedding (three zoomed views, each with its mirror, averaged: docs/IDENTITY.md), or the
 * identity quality gate's reason why this frame of the face gives no usable embedding.
 */
export type FaceEnrolment = { aligned: Uint8Array; embedding: Float32Array } | { rejected: 'small' | 'pose' | 'blurred' };
