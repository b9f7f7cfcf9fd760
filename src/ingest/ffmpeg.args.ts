import type { CameraSource } from './camera-url';
import type { FfmpegCapabilities } from './ffmpeg.locator';

export interface FfmpegArgsOptions {
  /** Output frames per second (ffmpeg's fps filter drops or duplicates to this rate). */
  fps: number;
  /** Longest side of the output frame; smaller inputs are never upscaled. 640 keeps a face at 2 m usable. */
  maxSide: number;
  /** Socket/read timeout for network sources, µs. */
  ioTimeoutUs: number;
  capabilities: FfmpegCapabilities;
  /** `info` is needed to read the output frame size from stderr (see ffmpeg.source.ts). */
  logLevel?: 'error' | 'warning' | 'info';
}

/**
 * The ffmpeg argument array for one camera: decode video only, rate-limit and scale in ffmpeg, write packed BGR24
 * frames to stdout. It is passed to spawn() as an array (no shell), and every input is preceded by `-i`, so a URL can
 * never become an option.
 */
export function buildFfmpegArgs(source: CameraSource, o: FfmpegArgsOptions): string[] {
  const args = ['-nostdin', '-hide_banner', '-nostats', '-loglevel', o.logLevel ?? 'info'];
  switch (source.kind) {
    case 'rtsp':
      args.push('-rtsp_transport', source.transport, o.capabilities.rtspTimeoutFlag, String(o.ioTimeoutUs));
      args.push('-i', source.url);
      break;
    case 'http':
      args.push('-rw_timeout', String(o.ioTimeoutUs), '-i', source.url);
      break;
    case 'file':
      // -re: read at the file's own frame rate, so a file behaves like a camera rather than a burst.
      args.push('-re');
      if (source.loop) args.push('-stream_loop', '-1');
      // "file:" prefix: a path is never parsed as another protocol (e.g. a file named "rtmp:x").
      args.push('-i', `file:${source.path}`);
      break;
    case 'device':
      args.push('-f', source.inputFormat, '-i', source.device);
      break;
  }
  return [...args, ...outputArgs(o)];
}

/** The output half: first video stream only, fps limit and downscale in ffmpeg, packed BGR24 to stdout. */
export function outputArgs(o: Pick<FfmpegArgsOptions, 'fps' | 'maxSide'>): string[] {
  const side = Math.max(16, Math.round(o.maxSide));
  // Commas inside the expressions are escaped: in -vf a bare comma separates filters.
  const scale = `scale=w=min(${side}\\,iw):h=min(${side}\\,ih):force_original_aspect_ratio=decrease`;
  return ['-map', '0:v:0', '-an', '-sn', '-dn', '-vf', `fps=${formatFps(o.fps)},${scale}`, '-f', 'rawvideo', '-pix_fmt', 'bgr24', 'pipe:1'];
}

function formatFps(fps: number): string {
  if (!(fps > 0) || !Number.isFinite(fps)) throw new RangeError(`fps must be positive, got ${fps}`);
  return Number(fps.toFixed(3)).toString();
}
