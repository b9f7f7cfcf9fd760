import { Inject, Injectable } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { CONFIG, Config } from '../config';
import { IngestError } from './ingest.errors';

/** What the ingest layer needs to know about the ffmpeg it runs. */
export interface FfmpegInfo {
  path: string;
  /** First line of `ffmpeg -version`, e.g. "ffmpeg version 5.1.9-0+deb12u1 …". */
  versionLine: string;
  /** libavformat major version (59 = ffmpeg 5.0); snapshot builds like "N-47683" have no release number. */
  libavformatMajor: number;
  capabilities: FfmpegCapabilities;
}

export interface FfmpegCapabilities {
  /**
   * The RTSP socket (I/O) timeout option, in microseconds. Measured: ffmpeg 5.1 takes `-timeout` and rejects
   * `-stimeout`; the 2018 static build (N-47683, libavformat 58) reads `-timeout` as LISTEN mode and needs `-stimeout`.
   */
  rtspTimeoutFlag: '-timeout' | '-stimeout';
}

export function capabilitiesFor(libavformatMajor: number): FfmpegCapabilities {
  // `stimeout` was removed and `timeout` became the socket timeout in libavformat 59 (ffmpeg 5.0).
  return { rtspTimeoutFlag: libavformatMajor >= 59 ? '-timeout' : '-stimeout' };
}

/** Parses `ffmpeg -version` output. */
export function parseVersionOutput(path: string, stdout: string): FfmpegInfo {
  const versionLine = stdout.split('\n')[0]?.trim() ?? '';
  if (!/^ffmpeg version /.test(versionLine)) {
    throw new IngestError('unavailable', `ffmpeg not found: ${path} -version did not print an ffmpeg version`);
  }
  const lavf = /libavformat\s+(\d+)\.\s*\d+/.exec(stdout);
  let major: number;
  if (lavf) major = Number(lavf[1]);
  else {
    // No library lines: fall back to the release number (5.x → lavf 59, 6.x → 60, 7.x → 61, 4.x → 58).
    const rel = /^ffmpeg version n?(\d+)\./.exec(versionLine);
    major = rel ? Number(rel[1]) + 54 : 58;
  }
  return { path, versionLine, libavformatMajor: major, capabilities: capabilitiesFor(major) };
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const exts = process.platform === 'win32' ? ['.exe', ''] : [''];
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = join(dir, name + ext);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

function bundled(): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const p = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
    return isExecutable(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Finds the ffmpeg binary: `FFMPEG_PATH` if set (and then only that one: an explicit setting that is wrong is an
 * error, not a reason to silently run another binary), else `ffmpeg` on PATH, else `@ffmpeg-installer/ffmpeg`'s.
 * The result (or the failure) is cached; `reset()` forgets it.
 */
@Injectable()
export class FfmpegLocator {
  private cached?: Promise<FfmpegInfo>;
  /** Where PATH is read from (tests replace it). */
  env: NodeJS.ProcessEnv = process.env;

  constructor(@Inject(CONFIG) private readonly config: Pick<Config, 'FFMPEG_PATH'>) {}

  /** Successes are cached; a failure is not (installing ffmpeg and retrying a camera then works). */
  locate(): Promise<FfmpegInfo> {
    this.cached ??= this.find().catch((err: unknown) => {
      this.cached = undefined;
      throw err;
    });
    return this.cached;
  }

  reset(): void {
    this.cached = undefined;
  }

  private async find(): Promise<FfmpegInfo> {
    const configured = this.config.FFMPEG_PATH;
    let path: string | undefined;
    if (configured) {
      if (!isExecutable(configured)) {
        throw new IngestError('unavailable', `ffmpeg not found: FFMPEG_PATH=${configured} is not an executable file`);
      }
      path = configured;
    } else {
      path = onPath('ffmpeg', this.env) ?? bundled();
      if (!path) {
        throw new IngestError(
          'unavailable',
          'ffmpeg not found: set FFMPEG_PATH, install ffmpeg (apt-get install ffmpeg) or the npm package @ffmpeg-installer/ffmpeg',
        );
      }
    }
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(path, ['-hide_banner', '-version'], { timeout: 10_000 }, (err, out) => {
        if (err) reject(new IngestError('unavailable', `ffmpeg not found: ${path} -version failed (${err.message})`));
        else resolve(out);
      });
    });
    // -hide_banner does not hide -version's own output.
    return parseVersionOutput(path, stdout);
  }
}
