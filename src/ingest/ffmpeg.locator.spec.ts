import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IngestError } from './ingest.errors';
import { FfmpegLocator, parseVersionOutput } from './ffmpeg.locator';

const BUNDLED = resolve('node_modules/@ffmpeg-installer/linux-x64/ffmpeg');

describe('parseVersionOutput', () => {
  it('reads libavformat 59 from ffmpeg 5.1 → -timeout', () => {
    const info = parseVersionOutput('/usr/bin/ffmpeg', 'ffmpeg version 5.1.9-0+deb12u1 Copyright\nlibavformat    59. 27.100 / 59. 27.100\n');
    expect(info.libavformatMajor).toBe(59);
    expect(info.capabilities.rtspTimeoutFlag).toBe('-timeout');
  });
  it('reads libavformat 58 from the 2018 snapshot build → -stimeout', () => {
    const info = parseVersionOutput('x', 'ffmpeg version N-47683-g0e8eb07980-static https://x\nlibavformat    58. 24.100 / 58. 24.100\n');
    expect(info.libavformatMajor).toBe(58);
    expect(info.capabilities.rtspTimeoutFlag).toBe('-stimeout');
  });
  it('falls back to the release number without library lines', () => {
    expect(parseVersionOutput('x', 'ffmpeg version 7.1 Copyright').capabilities.rtspTimeoutFlag).toBe('-timeout');
    expect(parseVersionOutput('x', 'ffmpeg version 4.4.2 Copyright').capabilities.rtspTimeoutFlag).toBe('-stimeout');
  });
  it('rejects output that is not ffmpeg', () => {
    expect(() => parseVersionOutput('x', 'Usage: something')).toThrow(IngestError);
  });
});

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
