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

export type CameraState = 'connecting' | 'streaming' | 'reconnecting' | 'failed' | 'stopped';

export interface CameraStatus {
  cameraId: string;
  state: CameraState;
  /** Why it is reconnecting or failed; never contains credentials. */
  reason?: string;
  fps?: number;
  ts: number;
}
