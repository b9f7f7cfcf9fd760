/**
 * What the inference room offers the pipeline and personalization: a face detector and a feature extractor (the
 * real classes are YunetDetector / ExpressionTrunk in-process, or the inference pool's proxies; tests pass fakes),
 * and the combined detect + crop + trunk request the pool's workers serve.
 */
import type { GrayImage } from '../contracts/faces';
import type { Box } from '../contracts/geometry';
import type { IdentityRequest, PreparedFace } from './embedding/identify-faces';
import type { CropRule } from './face-crop';
import type { Detection } from './yunet.decode';
import type { BgrImage } from './yunet.detector';

/** What analyze() should do beyond detection. */
export interface AnalyzeRequest {
  crop: CropRule;
  /** > 0: also a gray crop of up to this side (calibration's blur check); 0: none. */
  largeSide: number;
  /** Also run the trunk on the 48x48 crops. */
  features: boolean;
  /** Also check and align the faces at these boxes (live recognition, IDENTITY=face): per frame, the boxes of the
   * tracks the pipeline's identity scheduler picked (prepareFaces; the embedding is made elsewhere). */
  identity?: IdentityRequest;
}

/** One face as analyze() returns it: detection, crop, and (when asked) its 2048 trunk features. */
export interface AnalyzedFace {
  detection: Detection;
  region: Box;
  crop48: Uint8Array;
  cropLarge?: GrayImage;
  features?: Float32Array;
  /** For a face asked about in AnalyzeRequest.identity: its aligned views, or why this frame was not used. */
  identity?: PreparedFace;
  /** For every face of a frame flagged in AnalyzeRequest.identity.enrol: its aligned views, or why not. */
  enrolment?: PreparedFace;
}

export interface FaceDetector {
  detect(images: readonly BgrImage[]): Promise<Detection[][]>;
  /**
   * Optional: detection, crops and trunk features in one call, where the detector can do it off the main thread (the
   * inference pool's workers). The pipeline then skips its own crop and trunk work for these faces.
   */
  analyze?(images: readonly BgrImage[], request: AnalyzeRequest): Promise<AnalyzedFace[][]>;
  /** Into how many contiguous, even parts analyze() splits a batch (the pool's workers, splitEven): the identity
   * scheduler spreads the faces it asks about over them, so no worker's share of a batch carries them all. */
  readonly parallelism?: number;
}

/**
 * 48x48 gray faces -> 2048 features each (FEATURES, heads/head-shape.ts), rows in input order. The one trunk
 * interface: the pipeline, the pool's workers and the fine-tune trainer all use it.
 */
export interface FeatureExtractor {
  features(faces: readonly Uint8Array[]): Promise<Float32Array>;
  /** Frees the session it owns (a pool proxy owns none). */
  release(): Promise<void>;
}
