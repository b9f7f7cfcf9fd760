import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IngestError } from '../../src/ingest/ingest.errors';
import { FfmpegLocator } from '../../src/ingest/ffmpeg.locator';
import { BUNDLED_FFMPEG } from '../support/paths';

const BUNDLED = BUNDLED_FFMPEG;

describe('FfmpegLocator', () => {
  it('fails with "ffmpeg not found" when FFMPEG_PATH does not exist', async () => {
    const err = await new FfmpegLocator({ FFMPEG_PATH: '/nonexistent/ffmpeg' }).locate().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IngestError);
    expect((err as IngestError).code).toBe('unavailable');
    expect((err as Error).message).toMatch(/ffmpeg not found: FFMPEG_PATH=\/nonexistent\/ffmpeg/);
  });

  it.skipIf(!existsSync(BUNDLED))('falls back to the @ffmpeg-installer binary when PATH has none, and detects the 2018 build', async () => {
    const locator = new FfmpegLocator({});
    locator.env = { PATH: '/nonexistent-dir' };
    const info = await locator.locate();
    expect(info.path).toBe(BUNDLED);
    expect(info.versionLine).toMatch(/N-47683/);
    expect(info.capabilities.rtspTimeoutFlag).toBe('-stimeout');
  });

  it.skipIf(!existsSync('/usr/bin/ffmpeg'))('prefers ffmpeg on PATH', async () => {
    const locator = new FfmpegLocator({});
    locator.env = { PATH: '/usr/bin' };
    const info = await locator.locate();
    expect(info.path).toBe('/usr/bin/ffmpeg');
    expect(info.libavformatMajor).toBeGreaterThanOrEqual(59);
    expect(info.capabilities.rtspTimeoutFlag).toBe('-timeout');
  });
});
