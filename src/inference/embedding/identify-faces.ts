/**
 * The live path's identification step, shared by the inference workers (analyze with `identity`) and the in-process
 * path (INFERENCE_WORKERS=0): for each face the pipeline asked about (by the box where its track was last seen), check
 * its quality, align it to the dlib chip template in the calibrated test-time views (alignFaceViews: zooms 1, 0.93,
 * 1.07) and embed all of a call's faces in one FaceEmbedder.embedFaces run (each view with its mirror image, averaged,
 * L2-normalised): the same recipe the gallery was embedded with and the matcher's threshold was calibrated on
 * (docs/IDENTITY.md).
 */
import type { FaceEnrolment } from '../../contracts/faces';
import type { Box } from '../../contracts/geometry';
import { iou, type Detection } from '../yunet.decode';
import type { BgrImage } from '../yunet.detector';
import type { FaceEmbedder } from './face-embedder';
import { alignFaceViews, VIEW_SCALES } from './face-align';
import { DEFAULT_FACE_QUALITY, FaceQualityOptions, geometryRejection, QualityRejection, sharpness } from './face-quality';

/** What analyze() is asked to identify: per frame (same order as the frames), the boxes of the tracks whose face
 * should be embedded in this frame. The worker finds each box's face among its detections (IoU, then centroid). */
export interface IdentityRequest {
  frames: Box[][];
  quality?: FaceQualityOptions;
  /**
   * Per frame (same order; absent = none): also enrol EVERY face of that frame: the same quality gate, alignment and
   * embedding, plus the aligned scale-1 crop (calibration capture: the sample's face goes to the gallery). Made in the
   * same embedder run as the identity faces; a face both asked about and enrolled is embedded once.
   */
  enrol?: boolean[];
}

/** identifyAndEnrol's answer, per frame, per detection (undefined where not asked). */
export interface IdentityResults {
  identity: (FaceIdentityResult | undefined)[][];
  enrolment: (FaceEnrolment | undefined)[][];
}

/** A face asked about: its embedding, or why this frame of it was not good enough. */
export type FaceIdentityResult = { embedding: Float32Array } | { rejected: QualityRejection };

/** What embeds aligned views (FaceEmbedder in a worker or on the main thread). */
export interface ViewEmbedder {
  embedFaces(faces: readonly (readonly Uint8Array[])[]): Promise<Float32Array[]>;
}

/**
 * For each hint box, the index of the detection it designates, or -1: the highest IoU ≥ 0.3, else the nearest centre
 * within half the box's larger side (the tracker's rules, face-tracker.ts). Each detection serves at most one hint.
 */
export function detectionsForHints(detections: readonly Detection[], hints: readonly Box[]): number[] {
  const used = new Set<number>();
  return hints.map((h) => {
    let best = -1;
    let bestIou = 0.3;
    detections.forEach((d, i) => {
      if (used.has(i)) return;
      const v = iou(h, d.box);
      if (v >= bestIou) [best, bestIou] = [i, v];
    });
    if (best < 0) {
      let bestDist = 0.5 * Math.max(h.w, h.h);
      const [hx, hy] = [h.x + h.w / 2, h.y + h.h / 2];
      detections.forEach((d, i) => {
        if (used.has(i)) return;
        const dist = Math.hypot(d.box.x + d.box.w / 2 - hx, d.box.y + d.box.h / 2 - hy);
        if (dist <= bestDist) [best, bestDist] = [i, dist];
      });
    }
    if (best >= 0) used.add(best);
    return best;
  });
}

/**
 * Identity results per frame, per detection (undefined where the face was not asked about). Frames are BGR (ingest).
 */
export async function identifyFaces(
  images: readonly BgrImage[],
  detections: readonly (readonly Detection[])[],
  request: IdentityRequest,
  embedder: ViewEmbedder,
): Promise<(FaceIdentityResult | undefined)[][]> {
  return (await identifyAndEnrol(images, detections, { ...request, enrol: undefined }, embedder)).identity;
}

/**
 * identifyFaces, plus the enrolment of every face of the frames `request.enrol` flags (its aligned crop and
 * embedding, or the quality gate's reason), all embedded in one FaceEmbedder.embedFaces run.
 */
export async function identifyAndEnrol(
  images: readonly BgrImage[],
  detections: readonly (readonly Detection[])[],
  request: IdentityRequest,
  embedder: ViewEmbedder,
): Promise<IdentityResults> {
  const quality = request.quality ?? DEFAULT_FACE_QUALITY;
  const identity: (FaceIdentityResult | undefined)[][] = detections.map((list) => list.map(() => undefined));
  const enrolment: (FaceEnrolment | undefined)[][] = detections.map((list) => list.map(() => undefined));
  const views: Uint8Array[][] = [];
  const at: { i: number; k: number; identify: boolean; enrol: boolean }[] = [];
  images.forEach((image, i) => {
    const list = detections[i] ?? [];
    const asked = new Set(detectionsForHints(list, request.frames[i] ?? []).filter((k) => k >= 0));
    const enrolAll = request.enrol?.[i] ?? false;
    list.forEach((d, k) => {
      const identify = asked.has(k);
      if (!identify && !enrolAll) return;
      const put = (r: { rejected: QualityRejection }) => {
        if (identify) identity[i][k] = r;
        if (enrolAll) enrolment[i][k] = r;
      };
      const geometric = geometryRejection(d.box, d.landmarks, quality);
      if (geometric) return put({ rejected: geometric });
      const { crops } = alignFaceViews(image, 'bgr', d.landmarks, VIEW_SCALES);
      if (sharpness(crops[0]) < quality.minSharpness) return put({ rejected: 'blurred' });
      views.push(crops);
      at.push({ i, k, identify, enrol: enrolAll });
    });
  });
  if (views.length > 0) {
    const embeddings = await embedder.embedFaces(views);
    at.forEach(({ i, k, identify, enrol }, j) => {
      if (identify) identity[i][k] = { embedding: embeddings[j] };
      if (enrol) enrolment[i][k] = { aligned: views[j][0], embedding: embeddings[j] };
    });
  }
  return { identity, enrolment };
}

/**
 * Identification on the calling thread (INFERENCE_WORKERS=0; the pool's workers do it inside analyze()): the faces
 * that `request` points at, aligned and embedded.
 */
export interface FaceIdentifier {
  identify(
    images: readonly BgrImage[],
    detections: readonly (readonly Detection[])[],
    request: IdentityRequest,
  ): Promise<(FaceIdentityResult | undefined)[][]>;
  /** identify() plus the enrolment of the faces of the frames `request.enrol` flags (calibration capture). */
  identifyAndEnrol(images: readonly BgrImage[], detections: readonly (readonly Detection[])[], request: IdentityRequest): Promise<IdentityResults>;
  release(): Promise<void>;
}

/** FaceIdentifier over an in-process FaceEmbedder (a session from the app's OrtSessionFactory). */
export class InProcessFaceIdentifier implements FaceIdentifier {
  constructor(private readonly embedder: FaceEmbedder) {}

  identify(images: readonly BgrImage[], detections: readonly (readonly Detection[])[], request: IdentityRequest) {
    return identifyFaces(images, detections, request, this.embedder);
  }

  identifyAndEnrol(images: readonly BgrImage[], detections: readonly (readonly Detection[])[], request: IdentityRequest) {
    return identifyAndEnrol(images, detections, request, this.embedder);
  }

  release(): Promise<void> {
    return this.embedder.release();
  }
}
