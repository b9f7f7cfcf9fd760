import { Inject, Injectable, Optional } from '@nestjs/common';
import sharp from 'sharp';
import type { Metadata, OutputInfo } from 'sharp';
import { CONFIG, Config } from '../../config';
import { CodedError } from '../../contracts/errors';
import type { Box } from '../../contracts/geometry';
import { cropFace, CropRule, DEFAULT_CROP } from '../../inference/face-crop';
import { GENERAL_CROP } from '../../inference/model-crop';
import { describeFormats, sniffImageFormat, STILL_FORMATS } from '../../inference/image-format';
import { FACE_DETECTOR } from '../../inference/inference.module';
import type { Detection } from '../../inference/yunet.decode';

export interface PhotoLimits {
  /** Encoded bytes of one uploaded image. */
  maxBytes: number;
  /** width x height, checked from the header before any pixel is decoded (decompression bombs). */
  maxPixels: number;
}

/** Nest token for PhotoLimits (the module derives them from CONFIG; tests override). */
export const PHOTO_LIMITS = Symbol('PHOTO_LIMITS');

export const DEFAULT_PHOTO_LIMITS: PhotoLimits = { maxBytes: 10 * 1024 * 1024, maxPixels: 40_000_000 };

export interface PhotoFace {
  crop48: Uint8Array;
  /** Detector box in the original image's pixels. */
  box: Box;
  /** The decoded image the detector saw (scaled like a frame, BGR packed) and the face's 5 YuNet landmarks in its
   * pixels: enrolment aligns and embeds from these, so a photo is decoded and detected once. */
  detected: { image: { data: Uint8Array; width: number; height: number }; landmarks: number[] };
}

/** Where the caller points when a photo shows several faces: original image pixels. */
export interface FaceHint {
  x: number;
  y: number;
}

/** Port for the detector (tests pass a fake). */
export interface PhotoDetector {
  detect(images: readonly { data: Uint8Array; width: number; height: number }[]): Promise<Detection[][]>;
}

/**
 * A labelled photo -> the one face to learn from, detected and cropped exactly as on a stream: the image is scaled
 * like ingest scales frames (longest side ≤ FRAME_MAX_SIDE, never up), converted to BGR, run through the same YuNet
 * session, and cut with the pipeline's crop rule. Typed errors: unsupported_image (not a still format sharp decodes,
 * inference/image-format.ts), bad_message (undecodable), too_large (bytes or pixels), no_face, several_faces (and no
 * hint, or a hint that is in none or several of them).
 */
@Injectable()
export class PhotoFaces {
  constructor(
    @Inject(FACE_DETECTOR) private readonly detector: PhotoDetector,
    @Inject(PHOTO_LIMITS) private readonly limits: PhotoLimits,
    @Inject(CONFIG) private readonly config: Pick<Config, 'FRAME_MAX_SIDE'>,
    /** The general model's crop (models/manifest.json): a photo sample is cut as the stream's faces are. */
    @Optional() @Inject(GENERAL_CROP) private readonly crop: CropRule | null = null,
  ) {}

  async face(bytes: Buffer, hint?: FaceHint): Promise<PhotoFace> {
    if (bytes.length > this.limits.maxBytes) throw new CodedError('too_large', `image is ${bytes.length} bytes; the limit is ${this.limits.maxBytes}`);
    // magic bytes first: SVG, PDF and text never reach a decoder
    const sniffed = sniffImageFormat(bytes);
    if (!sniffed || !STILL_FORMATS.has(sniffed)) throw unsupported(sniffed ?? 'not an image');
    let meta: Metadata;
    try {
      // metadata() reads the header only: the pixel check happens before anything is decoded
      meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch (e) {
      throw new CodedError('bad_message', `${sniffed} image could not be read: ${(e as Error).message}`);
    }
    if (meta.format !== sniffed) throw unsupported(`${sniffed} magic bytes but ${meta.format ?? 'unknown'} content`);
    const w = meta.width ?? 0;
    const h = meta.height ?? 0;
    if (w <= 0 || h <= 0) throw new CodedError('bad_message', 'image has no size');
    if (w * h > this.limits.maxPixels) throw new CodedError('too_large', `image is ${w}x${h} pixels; the limit is ${this.limits.maxPixels} pixels`);
    let decoded: { data: Buffer; info: OutputInfo };
    try {
      decoded = await sharp(bytes, { limitInputPixels: this.limits.maxPixels, failOn: 'error' })
        .rotate() // EXIF orientation, as a viewer shows it
        .resize({ width: this.config.FRAME_MAX_SIDE, height: this.config.FRAME_MAX_SIDE, fit: 'inside', withoutEnlargement: true })
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true });
    } catch (e) {
      throw new CodedError('bad_message', `image could not be decoded: ${(e as Error).message}`);
    }
    const { data, info } = decoded;
    const bgr = new Uint8Array(info.width * info.height * 3);
    for (let i = 0, p = 0; p < bgr.length; i += info.channels, p += 3) {
      bgr[p] = data[i + 2];
      bgr[p + 1] = data[i + 1];
      bgr[p + 2] = data[i];
    }
    const image = { data: bgr, width: info.width, height: info.height };
    const [detections] = await this.detector.detect([image]);
    // sizes after rotate(): EXIF orientations 5-8 swap width and height
    const swapped = (meta.orientation ?? 1) >= 5;
    const origW = swapped ? h : w;
    const scale = info.width / origW;
    const chosen = pick(detections ?? [], hint && { x: hint.x * scale, y: hint.y * scale });
    const { crop48 } = cropFace(image, chosen.box, this.crop ?? DEFAULT_CROP, 0, chosen.landmarks);
    const b = chosen.box;
    return { crop48, box: { x: b.x / scale, y: b.y / scale, w: b.w / scale, h: b.h / scale }, detected: { image, landmarks: chosen.landmarks } };
  }
}

function unsupported(what: string): CodedError {
  return new CodedError('unsupported_image', `${what}: send ${describeFormats(STILL_FORMATS)}`);
}

function pick(faces: Detection[], hint: FaceHint | undefined): Detection {
  if (faces.length === 0) throw new CodedError('no_face', 'no face found in the image');
  if (faces.length === 1) return faces[0];
  if (!hint) throw new CodedError('several_faces', `${faces.length} faces in the image; send x,y (image pixels) inside the one to use`);
  const inside = faces.filter((f) => hint.x >= f.box.x && hint.x <= f.box.x + f.box.w && hint.y >= f.box.y && hint.y <= f.box.y + f.box.h);
  if (inside.length === 1) return inside[0];
  throw new CodedError('several_faces', `${faces.length} faces in the image and the hint (${Math.round(hint.x)},${Math.round(hint.y)}) is inside ${inside.length} of them`);
}
