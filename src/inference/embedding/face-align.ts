/**
 * Face alignment for the face-embedding model: a similarity transform (rotation, uniform scale, translation) from
 * YuNet's 5 landmarks to a fixed 5-point template, and a bilinear warp of a packed BGR/RGB frame into the aligned
 * 150×150 RGB crop. Pure TypeScript over raw buffers (no sharp, no ORT), so it runs inside the inference worker
 * threads. See docs/IDENTITY.md for the template choice and its measurements.
 */

/** Side of the aligned crop the dlib face descriptor takes. */
export const ALIGNED_SIZE = 150;

/** Five points as x,y pairs in YuNet's order: right eye, left eye, nose tip, right mouth corner, left mouth corner
 * (the subject's right, i.e. the image's left, comes first). */
export type FivePoints = readonly number[];

/** dst ≈ [a −b; b a]·src + [tx, ty]: scale √(a²+b²), rotation atan2(b, a). */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/**
 * dlib's mean face shape (landmarks 17..67 of the iBUG 68-point scheme, in a unit square), the shape dlib's
 * get_face_chip_details maps faces to; the dlib ResNet face descriptor was trained on such chips (size 150,
 * padding 0.25). Only the points the 5-point template needs are kept: the two eyes' six contour points, the nose tip
 * (point 30) and the mouth corners (48, 54). Values copied from dlib/image_transforms/interpolation.h.
 */
const DLIB_MEAN_FACE: Record<string, readonly [number, number]> = {
  p36: [0.121737, 0.216423],
  p37: [0.187122, 0.178758],
  p38: [0.265825, 0.179852],
  p39: [0.334606, 0.231733],
  p40: [0.260918, 0.245099],
  p41: [0.182743, 0.244077],
  p42: [0.645647, 0.231733],
  p43: [0.714428, 0.179852],
  p44: [0.793132, 0.178758],
  p45: [0.858516, 0.216423],
  p46: [0.79751, 0.244077],
  p47: [0.719335, 0.245099],
  p30: [0.490127, 0.515625],
  p48: [0.254149, 0.780233],
  p54: [0.726104, 0.780233],
};

/**
 * The 5-point template in the pixels of a `size` chip with dlib's `padding` (get_face_chip_details: a mean-shape
 * coordinate u lands at (padding + u) / (1 + 2·padding) · size). Eye points are the centres of the six eye-contour
 * points (YuNet marks eye centres). For size 150, padding 0.25: eyes (47.5, 46.6) and (100.5, 46.6), nose (74.0,
 * 76.6), mouth corners (50.4, 103.0) and (97.6, 103.0).
 */
export function dlibTemplate(size = ALIGNED_SIZE, padding = 0.25): number[] {
  const m = DLIB_MEAN_FACE;
  const centre = (ids: string[]): [number, number] => [
    ids.reduce((s, id) => s + m[id][0], 0) / ids.length,
    ids.reduce((s, id) => s + m[id][1], 0) / ids.length,
  ];
  const points = [
    centre(['p36', 'p37', 'p38', 'p39', 'p40', 'p41']),
    centre(['p42', 'p43', 'p44', 'p45', 'p46', 'p47']),
    m.p30,
    m.p48,
    m.p54,
  ];
  const k = size / (1 + 2 * padding);
  return points.flatMap(([u, v]) => [(padding + u) * k, (padding + v) * k]);
}

/** The ArcFace / InsightFace 112×112 five-point template, scaled to `size` (a tighter crop than dlib's chip). */
export function arcfaceTemplate(size = ALIGNED_SIZE): number[] {
  const t = [38.2946, 51.6963, 73.5318, 51.5014, 56.0252, 71.7366, 41.5493, 92.3655, 70.7299, 92.2041];
  return t.map((v) => (v * size) / 112);
}

/** The template the embedder is used with: dlib's chip geometry, measured best (docs/IDENTITY.md). */
export const FACE_TEMPLATE: readonly number[] = dlibTemplate();

/** Per-landmark weights of the fit (eyes, nose, mouth corners); see docs/IDENTITY.md for the measured choice. */
export const LANDMARK_WEIGHTS: readonly number[] = [1, 1, 1, 1, 1];

export class AlignmentError extends Error {}

/**
 * Least-squares similarity transform taking `src` points to `dst` points (Umeyama 1991, without reflection: in 2-D
 * the [a −b; b a] parametrisation is linear, so the closed form is exact). Both are x,y pairs, same count (≥ 2);
 * optional per-point weights (a weighted least-squares fit; weight 0 ignores a point).
 */
export function similarityTransform(src: FivePoints, dst: FivePoints, weights?: readonly number[]): Similarity {
  const n = src.length / 2;
  if (src.length !== dst.length || src.length < 4 || src.length % 2 !== 0) {
    throw new AlignmentError(`similarityTransform needs two equal lists of ≥ 2 points, got ${src.length / 2} and ${dst.length / 2}`);
  }
  if (![...src, ...dst].every(Number.isFinite)) throw new AlignmentError('similarityTransform: non-finite landmark');
  const w = weights ?? Array.from({ length: n }, () => 1);
  if (w.length !== n || !w.every((v) => Number.isFinite(v) && v >= 0)) throw new AlignmentError(`similarityTransform: need ${n} weights ≥ 0`);
  let total = 0;
  let sx = 0;
  let sy = 0;
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < n; i++) {
    total += w[i];
    sx += w[i] * src[2 * i];
    sy += w[i] * src[2 * i + 1];
    dx += w[i] * dst[2 * i];
    dy += w[i] * dst[2 * i + 1];
  }
  if (!(total > 0)) throw new AlignmentError('similarityTransform: all weights are zero');
  sx /= total;
  sy /= total;
  dx /= total;
  dy /= total;
  let norm = 0;
  let dot = 0;
  let cross = 0;
  for (let i = 0; i < n; i++) {
    const px = src[2 * i] - sx;
    const py = src[2 * i + 1] - sy;
    const qx = dst[2 * i] - dx;
    const qy = dst[2 * i + 1] - dy;
    norm += w[i] * (px * px + py * py);
    dot += w[i] * (px * qx + py * qy);
    cross += w[i] * (px * qy - py * qx);
  }
  if (norm < 1e-9) throw new AlignmentError('similarityTransform: landmarks coincide (degenerate face)');
  const a = dot / norm;
  const b = cross / norm;
  return { a, b, tx: dx - (a * sx - b * sy), ty: dy - (b * sx + a * sy) };
}

export function applySimilarity(t: Similarity, x: number, y: number): [number, number] {
  return [t.a * x - t.b * y + t.tx, t.b * x + t.a * y + t.ty];
}

export function invertSimilarity(t: Similarity): Similarity {
  const d = t.a * t.a + t.b * t.b;
  if (d < 1e-18) throw new AlignmentError('invertSimilarity: zero scale');
  const a = t.a / d;
  const b = -t.b / d;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}

/** A packed 8-bit, 3-channel image; `order` says which channel comes first (frames from ingest are BGR). */
export interface PackedImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Warp `image` into a size×size RGB crop: output pixel (x, y) samples the source at T⁻¹(x, y) bilinearly (pixel
 * centres at integer coordinates, the convention of YuNet's landmarks and OpenCV's warpAffine); samples outside the
 * image are black, like dlib's chip extraction. `toCrop` maps source pixels to crop pixels. Returns RGB, packed.
 */
export function warpToCrop(
  image: PackedImage,
  order: 'bgr' | 'rgb',
  toCrop: Similarity,
  size = ALIGNED_SIZE,
  out: Uint8Array = new Uint8Array(size * size * 3),
): Uint8Array {
  const { data, width, height } = image;
  if (data.length < width * height * 3) throw new AlignmentError(`image buffer has ${data.length} bytes, ${width}x${height}x3 needs ${width * height * 3}`);
  if (out.length < size * size * 3) throw new AlignmentError(`output buffer too small for ${size}x${size}x3`);
  const inv = invertSimilarity(toCrop);
  const [c0, c2] = order === 'bgr' ? [2, 0] : [0, 2];
  const stride = width * 3;
  let o = 0;
  for (let y = 0; y < size; y++) {
    // source position of (0, y), advanced by (a, b) per output column
    let sxp = -inv.b * y + inv.tx;
    let syp = inv.a * y + inv.ty;
    for (let x = 0; x < size; x++, sxp += inv.a, syp += inv.b, o += 3) {
      const x0 = Math.floor(sxp);
      const y0 = Math.floor(syp);
      if (x0 < -1 || y0 < -1 || x0 >= width || y0 >= height) {
        out[o] = 0;
        out[o + 1] = 0;
        out[o + 2] = 0;
        continue;
      }
      const fx = sxp - x0;
      const fy = syp - y0;
      const w00 = (1 - fx) * (1 - fy);
      const w01 = fx * (1 - fy);
      const w10 = (1 - fx) * fy;
      const w11 = fx * fy;
      // out-of-image neighbours count as black (weight kept, value 0)
      const inX0 = x0 >= 0;
      const inX1 = x0 + 1 < width;
      const inY0 = y0 >= 0;
      const inY1 = y0 + 1 < height;
      const p00 = y0 * stride + x0 * 3;
      const p01 = p00 + 3;
      const p10 = p00 + stride;
      const p11 = p10 + 3;
      for (let c = 0; c < 3; c++) {
        const ch = c === 0 ? c0 : c === 1 ? 1 : c2;
        let v = 0;
        if (inY0 && inX0) v += w00 * data[p00 + ch];
        if (inY0 && inX1) v += w01 * data[p01 + ch];
        if (inY1 && inX0) v += w10 * data[p10 + ch];
        if (inY1 && inX1) v += w11 * data[p11 + ch];
        out[o + c] = v + 0.5; // v is a convex mix of bytes (0..255); the store truncates, so +0.5 rounds
      }
    }
  }
  return out;
}

/** Align one face: the transform from its landmarks to `template`, then the warp. */
export function alignFace(
  image: PackedImage,
  order: 'bgr' | 'rgb',
  landmarks: FivePoints,
  template: readonly number[] = FACE_TEMPLATE,
  size = ALIGNED_SIZE,
  weights: readonly number[] = LANDMARK_WEIGHTS,
): { crop: Uint8Array; transform: Similarity } {
  if (landmarks.length !== 10) throw new AlignmentError(`alignFace needs 5 landmarks (10 numbers), got ${landmarks.length}`);
  const transform = similarityTransform(landmarks, template, weights);
  return { crop: warpToCrop(image, order, transform, size), transform };
}

/**
 * The unaligned baseline (for measurements only): the detector box's square, scaled to the crop with no rotation.
 * `scale` widens the square around the box centre (1 = the box's longer side).
 */
export function boxTransform(box: { x: number; y: number; w: number; h: number }, size = ALIGNED_SIZE, scale = 1.2): Similarity {
  const side = Math.max(box.w, box.h) * scale;
  if (!(side > 0)) throw new AlignmentError('boxTransform: empty box');
  const k = size / side;
  const cx = box.x + box.w / 2;
  const cy = box.y + box.h / 2;
  return { a: k, b: 0, tx: size / 2 - k * cx, ty: size / 2 - k * cy };
}

/** The face with the largest box (area), or undefined; enrolment photos use the largest face. */
export function largestFace<T extends { box: { w: number; h: number } }>(faces: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const f of faces) if (!best || f.box.w * f.box.h > best.box.w * best.box.h) best = f;
  return best;
}

/**
 * Test-time views of one face: the template crop (scale 1, first: the crop to store) and the same alignment zoomed
 * about the crop centre by each other factor. Averaging the embeddings of 1, 0.93 and 1.07 (each with its mirror image)
 * raised Taiwanese genuine acceptance at ≤ 1% strangers from 97.5% to 98.6% (docs/IDENTITY.md).
 */
export const VIEW_SCALES: readonly number[] = [1, 0.93, 1.07];

/** `t` followed by a zoom by `k` about the centre of a size×size crop. */
export function scaleAbout(t: Similarity, k: number, size = ALIGNED_SIZE): Similarity {
  const c = size / 2;
  return { a: t.a * k, b: t.b * k, tx: k * (t.tx - c) + c, ty: k * (t.ty - c) + c };
}

/** The crops of `alignFace` at every scale of `scales` (same order); the embedder averages them into one face. */
export function alignFaceViews(
  image: PackedImage,
  order: 'bgr' | 'rgb',
  landmarks: FivePoints,
  scales: readonly number[] = VIEW_SCALES,
  template: readonly number[] = FACE_TEMPLATE,
  size = ALIGNED_SIZE,
): { crops: Uint8Array[]; transform: Similarity } {
  if (landmarks.length !== 10) throw new AlignmentError(`alignFaceViews needs 5 landmarks (10 numbers), got ${landmarks.length}`);
  if (scales.length === 0 || !scales.every((k) => k > 0 && Number.isFinite(k))) throw new AlignmentError('alignFaceViews needs scales > 0');
  const transform = similarityTransform(landmarks, template, LANDMARK_WEIGHTS);
  return { crops: scales.map((k) => warpToCrop(image, order, scaleAbout(transform, k, size), size)), transform };
}
