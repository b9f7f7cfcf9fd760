import { Injectable } from '@nestjs/common';
import { stat } from 'node:fs/promises';
import { FfmpegLocator } from './ffmpeg.locator';
import { IngestError } from './ingest.errors';
import { ProcessSpawner, waitForExit } from './process.spawner';

/**
 * Checks, when a file camera is added, that the file exists and holds a decodable video stream — so a bad file is a
 * 4xx / WS error at once rather than a camera that fails later. When ffmpeg itself is missing the check is skipped
 * (the camera then goes `failed` with "ffmpeg not found", which says more).
 */
@Injectable()
export class FileProbe {
  constructor(
    private readonly locator: FfmpegLocator,
    private readonly spawner: ProcessSpawner,
  ) {}

  async check(path: string, timeoutMs = 15_000): Promise<void> {
    const st = await stat(path).catch(() => undefined);
    if (!st) throw new IngestError('invalid_url', `file not found: ${path}`);
    if (!st.isFile()) throw new IngestError('invalid_url', `not a regular file: ${path}`);
    let ffmpegPath: string;
    try {
      ffmpegPath = (await this.locator.locate()).path;
    } catch {
      return;
    }
    const child = this.spawner.spawn(ffmpegPath, [
      '-nostdin', '-hide_banner', '-loglevel', 'error', '-i', `file:${path}`,
      '-map', '0:v:0', '-frames:v', '1', '-f', 'null', '-',
    ]);
    let stderr = '';
    child.stdout.resume();
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (t: string) => {
      if (stderr.length < 4096) stderr += t;
    });
    const result = await new Promise<{ code: number | null } | { error: Error }>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve({ error: new Error(`no answer within ${timeoutMs} ms`) });
      }, timeoutMs);
      child.once('error', (error: Error) => {
        clearTimeout(timer);
        resolve({ error });
      });
      child.once('close', (code: number | null) => {
        clearTimeout(timer);
        resolve({ code });
      });
    });
    await waitForExit(child, 1000);
    if ('error' in result) return; // could not run the check: let the camera itself report
    if (result.code !== 0) {
      const line = stderr.split('\n').map((l) => l.trim()).filter(Boolean).at(-1) ?? `ffmpeg exit code ${result.code}`;
      throw new IngestError('invalid_url', `not a playable video file: ${path}: ${line}`);
    }
  }
}
