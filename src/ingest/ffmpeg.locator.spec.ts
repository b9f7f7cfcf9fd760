import { describe, expect, it } from 'vitest';
import { IngestError } from './ingest.errors';
import { parseVersionOutput } from './ffmpeg.locator';

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
