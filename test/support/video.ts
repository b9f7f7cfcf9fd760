import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { D6, SHARED } from './paths';

export { D6, SHARED };
export const hasD6 = existsSync(D6);
export const noD6Reason = `../shared/videos/d6.mp4 not found (${D6}): tests that need a real face video are skipped`;
export const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';

/** Decode frames of a video to packed BGR24 buffers (in memory), at `fps`, starting at `start` seconds. */
export function decodeBgrFrames(
  path: string,
  opts: { start?: number; count: number; fps?: number },
): { width: number; height: number; frames: Buffer[] } {
  const probe = execFileSync(FFMPEG.replace(/ffmpeg$/, 'ffprobe'), [
    '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', path,
  ]).toString().trim().split(',').map(Number);
  const [width, height] = probe;
  const args = ['-nostdin', '-v', 'error', '-ss', String(opts.start ?? 0), '-i', path];
  if (opts.fps) args.push('-vf', `fps=${opts.fps}`);
  args.push('-frames:v', String(opts.count), '-f', 'rawvideo', '-pix_fmt', 'bgr24', 'pipe:1');
  const raw = execFileSync(FFMPEG, args, { maxBuffer: 1 << 30 });
  const size = width * height * 3;
  const frames: Buffer[] = [];
  for (let o = 0; o + size <= raw.length; o += size) frames.push(raw.subarray(o, o + size));
  return { width, height, frames };
}
