/**
 * Eye levelling for issue 17's "aligned faces": a face turned in the image plane (head tilt) is rotated about the
 * centre of its crop until the eyes (YuNet landmarks 0 and 1) are level. Training faces (FER-2013's 48x48 crops,
 * scripts/align-fer.ts) and live crops go through the same two functions, so a model trained on levelled faces sees
 * levelled faces live.
 */

/** Angle of the line from landmark 0 to landmark 1 (the two eyes), radians, image axes (y down). */
export function eyeAngle(landmarks: readonly number[]): number {
  if (landmarks.length < 4 || landmarks.slice(0, 4).some((v) => !Number.isFinite(v))) {
    throw new RangeError(`eyeAngle needs the two eye landmarks (4 finite numbers), got ${landmarks.length} values`);
  }
  return Math.atan2(landmarks[3] - landmarks[1], landmarks[2] - landmarks[0]);
}

/** Beyond this tilt the landmarks are more likely wrong than the head turned that far: the face is left as it is. */
export const MAX_LEVEL_DEGREES = 30;

/** The rotation that levels the eyes: eyeAngle, or 0 when it is beyond MAX_LEVEL_DEGREES. */
export function levellingAngle(landmarks: readonly number[]): number {
  const angle = eyeAngle(landmarks);
  return Math.abs(angle) <= (MAX_LEVEL_DEGREES * Math.PI) / 180 ? angle : 0;
}

/**
 * A square of a gray image, rotated: output pixel (x, y) of an `outSide` square samples the source at the square
 * (centre cx, cy, side `side`) point it maps to, turned by `angle` about the centre. Bilinear; outside the source the
 * nearest edge pixel is repeated (as training's augmentation pads: grid_sample `border`), so a face near the frame
 * edge or a 48x48 training face does not get black corners. angle = levellingAngle(...) levels the eyes.
 */
export function rotatedSquare(
  gray: Uint8Array,
  width: number,
  height: number,
  square: { cx: number; cy: number; side: number },
  angle: number,
  outSide: number,
): Uint8Array {
  if (gray.length < width * height) throw new RangeError(`gray buffer has ${gray.length} bytes, ${width}x${height} needs ${width * height}`);
  const out = new Uint8Array(outSide * outSide);
  const k = square.side / outSide;
  const cos = Math.cos(angle) * k;
  const sin = Math.sin(angle) * k;
  const half = outSide / 2;
  const clampX = (v: number) => (v < 0 ? 0 : v > width - 1 ? width - 1 : v);
  const clampY = (v: number) => (v < 0 ? 0 : v > height - 1 ? height - 1 : v);
  for (let y = 0; y < outSide; y++) {
    const dy = y + 0.5 - half;
    for (let x = 0; x < outSide; x++) {
      const dx = x + 0.5 - half;
      // pixel centres: output offset (dx, dy) from the centre, rotated by +angle, lands on the source
      const sx = clampX(square.cx + cos * dx - sin * dy - 0.5);
      const sy = clampY(square.cy + sin * dx + cos * dy - 0.5);
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = Math.min(x0 + 1, width - 1);
      const y1 = Math.min(y0 + 1, height - 1);
      const fx = sx - x0;
      const fy = sy - y0;
      const top = gray[y0 * width + x0] * (1 - fx) + gray[y0 * width + x1] * fx;
      const bottom = gray[y1 * width + x0] * (1 - fx) + gray[y1 * width + x1] * fx;
      out[y * outSide + x] = Math.round(top * (1 - fy) + bottom * fy);
    }
  }
  return out;
}
