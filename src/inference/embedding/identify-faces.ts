/**
 * The live path's identification, in two halves. prepareFaces, where the frame is (the inference workers inside
 * analyze(), or the main thread with INFERENCE_WORKERS=0): for each face the pipeline asked about (by the box where its
 * track was last seen) the quality gate and the alignment to the dlib chip template in the calibrated test-time views
 * (alignFaceViews: zooms 1, 0.93, 1.07). Then a ViewEmbedder embeds the views (each with its mirror image, averaged,
 * L2-normalised): the same recipe the gallery was embedded with and the matcher's threshold was calibrated on
 * (docs/IDENTITY.md).
 */
import type { FaceEnrolment } from '../../contracts/faces';
import type { Box } from '../../contracts/geometry';
import { iou, type Detection } from '../yunet.decode';
import type { BgrImage } from '../yunet.detector';
import { alignFaceViews, VIEW_SCALES } from './face-align';
import { DEFAULT_FACE_QUALITY, FaceQualityOptions, geometryRejection, QualityRejection, sharpness } from './face-quality';

/** What analyze() is asked to identify: per frame (same order as the frames), the boxes of the tracks whose face
 * should be embedded in this frame. The worker finds each box's face among its detections (IoU, then centroid). */
export interface IdentityRequest {
  frames: Box[][];
  quality?: FaceQualityOptions;
  /**
   * Per frame (same order; absent = none): also enrol EVERY face of that frame: the same quality gate, alignment and
   * embedding, plus the aligned scale-1 crop (calibration capture: the sample's face goes to the gallery). A face both
   * asked about and enrolled is prepared (and embedded) once.
   */
  enrol?: boolean[];
}

/** What embeds aligned views: FaceEmbedder on the calling thread, or the embedding worker (PooledViewEmbedder). Each
 * face's views → one L2-normalised embedding, same order. */
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

/** A face made ready to embed: its aligned views (alignFaceViews at VIEW_SCALES, the scale-1 template crop first), or
 * why this frame of it is not good enough (the quality gate). */
export type PreparedFace = { views: Uint8Array[] } | { rejected: QualityRejection };

/** prepareFaces' answer, per frame, per detection (undefined where not asked). A face both asked about and enrolled
 * shares one PreparedFace, so it is embedded once. */
export interface PreparedFaces {
  identity: (PreparedFace | undefined)[][];
  enrolment: (PreparedFace | undefined)[][];
}

/**
 * The cheap half of identification, done where the frame is (an inference worker inside analyze(), or the main thread
 * with INFERENCE_WORKERS=0): for the faces at the request's boxes (and every face of the frames `request.enrol`
 * flags), the quality gate and the alignment to the dlib template in the calibrated views. The costly half, the
 * ResNet (~6 crops per face), runs elsewhere (embedPrepared): live recognition sends the views to its own embedding
 * worker so that a batch never waits for it (docs/IDENTITY.md "Live recognition"). Frames are BGR (ingest).
 */
export function prepareFaces(images: readonly BgrImage[], detections: readonly (readonly Detection[])[], request: IdentityRequest): PreparedFaces {
  const quality = request.quality ?? DEFAULT_FACE_QUALITY;
  const identity: (PreparedFace | undefined)[][] = detections.map((list) => list.map(() => undefined));
  const enrolment: (PreparedFace | undefined)[][] = detections.map((list) => list.map(() => undefined));
  images.forEach((image, i) => {
    const list = detections[i] ?? [];
    const asked = new Set(detectionsForHints(list, request.frames[i] ?? []).filter((k) => k >= 0));
    const enrolAll = request.enrol?.[i] ?? false;
    list.forEach((d, k) => {
      const identify = asked.has(k);
      if (!identify && !enrolAll) return;
      const prepared = prepareFace(image, d, quality);
      if (identify) identity[i][k] = prepared;
      if (enrolAll) enrolment[i][k] = prepared;
    });
  });
  return { identity, enrolment };
}

function prepareFace(image: BgrImage, d: Detection, quality: FaceQualityOptions): PreparedFace {
  const geometric = geometryRejection(d.box, d.landmarks, quality);
  if (geometric) return { rejected: geometric };
  const { crops } = alignFaceViews(image, 'bgr', d.landmarks, VIEW_SCALES);
  if (sharpness(crops[0]) < quality.minSharpness) return { rejected: 'blurred' };
  return { views: crops };
}

/**
 * The enrolments of prepared faces (calibration capture): each face's aligned template crop and its embedding, in one
 * embedder run, or the quality gate's reason. Same order as `faces`.
 */
export async function embedPrepared(faces: readonly PreparedFace[], embedder: ViewEmbedder): Promise<FaceEnrolment[]> {
  const ready = faces.filter((f): f is { views: Uint8Array[] } => 'views' in f);
  const embeddings = ready.length > 0 ? await embedder.embedFaces(ready.map((f) => f.views)) : [];
  let j = 0;
  return faces.map((f) => ('views' in f ? { aligned: f.views[0], embedding: embeddings[j++] } : f));
}
