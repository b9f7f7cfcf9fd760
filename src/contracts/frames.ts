/**
 * Decoded video frames as they travel from ingest to the pipeline and the previews. Server-only (Node's Buffer), so
 * it is not part of the SDK's barrel (index.ts).
 */

/** One decoded video frame. `data` is packed BGR24 (YuNet's input order), row-major, width*height*3 bytes. */
export interface Frame {
  cameraId: string;
  /** Per-camera sequence number, from 0, counting every frame the source produced (dropped or not). */
  frameId: number;
  /** Capture time, ms since epoch (when the frame's last byte arrived from ffmpeg or the browser). */
  ts: number;
  width: number;
  height: number;
  data: Buffer;
}
