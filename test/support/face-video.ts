/**
 * Test videos of one person made from still photos with ffmpeg, for the identity tests (issue 14): the per-subject
 * Taiwanese set (../shared/datasets/taiwanese/<subject>/{calibration,test}/<label>/*, 256x256 JPEGs) has photos, not
 * videos. Each photo is shown for `secondsPerPhoto` at `fps`, upscaled to `size`×`size`, H.264 in MP4 (what a file
 * camera plays). The "leave and return" video puts a face-less frame (the first photo blurred beyond recognition) in
 * the middle, long enough that the tracker ends the track (TRACK_GRACE_FRAMES) and a new one starts when the person
 * comes back. Files are written under a directory the caller owns (a temp dir), never into the repo.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TAIWANESE } from './paths';

export { TAIWANESE };
export const hasTaiwanese = existsSync(TAIWANESE);
export const noTaiwaneseReason = `${TAIWANESE} not found (datasets live in ../shared/datasets): tests that need photos of real people are skipped`;

export interface VideoOptions {
  /** Seconds each photo stays on screen (default 1). */
  secondsPerPhoto?: number;
  /** Output frame rate (default 10). */
  fps?: number;
  /** Output width and height in pixels (default 512). */
  size?: number;
  ffmpeg?: string;
}

/**
 * Up to `count` photos of one subject from one split, taking the labels in turn (neutral, happy, sad, … as sorted
 * folder names) so a short video still shows several expressions; sorted file names within a label.
 */
export function subjectPhotos(subject: string, split: 'calibration' | 'test', count = Infinity, root = TAIWANESE): string[] {
  const dir = join(root, subject, split);
  const byLabel = readdirSync(dir)
    .sort()
    .map((label) => readdirSync(join(dir, label)).sort().map((f) => join(dir, label, f)));
  const out: string[] = [];
  for (let i = 0; out.length < count && byLabel.some((files) => i < files.length); i++) {
    for (const files of byLabel) if (i < files.length && out.length < count) out.push(files[i]);
  }
  return out;
}

/** Every photo of one subject and split with its label (the folder name): what a labelled sample upload needs. */
export function labelledPhotos(subject: string, split: 'calibration' | 'test', root = TAIWANESE): { label: string; path: string }[] {
  const dir = join(root, subject, split);
  return readdirSync(dir)
    .sort()
    .flatMap((label) => readdirSync(join(dir, label)).sort().map((f) => ({ label, path: join(dir, label, f) })));
}

/** Subjects of the set (sorted folder names that have both splits). */
export function subjects(root = TAIWANESE): string[] {
  return readdirSync(root)
    .filter((s) => existsSync(join(root, s, 'calibration')) && existsSync(join(root, s, 'test')))
    .sort();
}

/**
 * Encodes `frames` (image files, each shown `secondsPerPhoto`) to an MP4 at `out`. The photos are copied to a numbered
 * sequence in a temp dir (image2 needs one) and scaled to a square; the last photo is repeated once so it keeps its
 * full duration (image2 gives the final input frame no length of its own).
 */
function encode(frames: string[], out: string, opts: VideoOptions): string {
  const { secondsPerPhoto = 1, fps = 10, size = 512, ffmpeg = process.env.FFMPEG_PATH ?? 'ffmpeg' } = opts;
  if (frames.length === 0) throw new Error('no photos to make a video from');
  const seq = mkdtempSync(join(out, '..', '.frames-'));
  try {
    [...frames, frames[frames.length - 1]].forEach((f, i) => copyFileSync(f, join(seq, `${String(i).padStart(4, '0')}.jpg`)));
    execFileSync(ffmpeg, [
      '-nostdin', '-v', 'error', '-y',
      '-framerate', String(1 / secondsPerPhoto), '-i', join(seq, '%04d.jpg'),
      '-vf', `scale=${size}:${size}:flags=bicubic,fps=${fps},format=yuv420p`,
      '-t', String(frames.length * secondsPerPhoto),
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-g', String(fps), '-movflags', '+faststart',
      out,
    ]);
  } finally {
    rmSync(seq, { recursive: true, force: true });
  }
  return out;
}

/** A video of one person: each photo for `secondsPerPhoto`. Returns `out`. */
export function stillsVideo(photos: string[], out: string, opts: VideoOptions = {}): string {
  mkdirSync(join(out, '..'), { recursive: true });
  return encode(photos, out, opts);
}

/**
 * "Leave and return": `before` photos, then `gapSeconds` of a frame with no face (the first photo under a Gaussian
 * blur of sigma 40: the same colours and light, no face YuNet can find — test/integration/face-video.spec.ts checks
 * that), then `after` photos. At the default 10 fps a 4 s gap is 40 frames, far beyond TRACK_GRACE_FRAMES (5), also
 * when a loaded pipeline skips frames, so the person's track ends and their return opens a new one.
 * Returns `out` and the gap's place in seconds.
 */
export function leaveAndReturnVideo(
  before: string[],
  after: string[],
  out: string,
  opts: VideoOptions & { gapSeconds?: number } = {},
): { path: string; gapStart: number; gapEnd: number } {
  const { gapSeconds = 4, secondsPerPhoto = 1, ffmpeg = process.env.FFMPEG_PATH ?? 'ffmpeg' } = opts;
  mkdirSync(join(out, '..'), { recursive: true });
  const blurred = join(out, '..', `.empty-${process.pid}-${Date.now()}.jpg`);
  execFileSync(ffmpeg, ['-nostdin', '-v', 'error', '-y', '-i', before[0], '-vf', 'gblur=sigma=40:steps=3', '-q:v', '2', blurred]);
  try {
    const gap = Array.from({ length: Math.max(1, Math.round(gapSeconds / secondsPerPhoto)) }, () => blurred);
    encode([...before, ...gap, ...after], out, opts);
  } finally {
    rmSync(blurred, { force: true });
  }
  const gapStart = before.length * secondsPerPhoto;
  return { path: out, gapStart, gapEnd: gapStart + Math.max(1, Math.round(gapSeconds / secondsPerPhoto)) * secondsPerPhoto };
}
