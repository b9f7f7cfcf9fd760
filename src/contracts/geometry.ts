/** Geometry shared by detections, tracks and the faces clients receive. */

/** An axis-aligned rectangle in source-frame pixels: (x, y) is the top-left corner. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
