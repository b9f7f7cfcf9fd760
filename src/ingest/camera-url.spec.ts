import { describe, expect, it } from 'vitest';
import { IngestError } from './ingest.errors';
import { isLiveSource, parseCameraUrl, redactUrl } from './camera-url';

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof IngestError ? e.code : `not IngestError: ${String(e)}`;
  }
  return undefined;
}

describe('parseCameraUrl', () => {
  it('parses rtsp with tcp by default and udp on request', () => {
    expect(parseCameraUrl('rtsp://cam.local:8554/live')).toEqual({ kind: 'rtsp', url: 'rtsp://cam.local:8554/live', transport: 'tcp' });
    expect(parseCameraUrl('rtsps://u:p@10.0.0.2/s', { transport: 'udp' })).toMatchObject({ kind: 'rtsp', transport: 'udp' });
    expect(parseCameraUrl('RTSP://cam/x').kind).toBe('rtsp');
  });

  it('parses http(s)', () => {
    expect(parseCameraUrl('http://cam/mjpeg').kind).toBe('http');
    expect(parseCameraUrl('https://cam/hls.m3u8').kind).toBe('http');
  });

  it('parses absolute file URLs with loop, decoding %-escapes', () => {
    expect(parseCameraUrl('file:///videos/a%20b.mp4', { loop: true })).toEqual({
      kind: 'file',
      url: 'file:///videos/a%20b.mp4',
      path: '/videos/a b.mp4',
      loop: true,
    });
    expect(parseCameraUrl('file:///v/x.mp4')).toMatchObject({ loop: false });
    expect(parseCameraUrl('file:///v/../etc/x.mp4')).toMatchObject({ path: '/etc/x.mp4' });
  });

  it('chooses the webcam input format by platform', () => {
    expect(parseCameraUrl('device:///dev/video0', { platform: 'linux' })).toEqual({
      kind: 'device',
      url: 'device:///dev/video0',
      device: '/dev/video0',
      inputFormat: 'v4l2',
    });
    expect(parseCameraUrl('device:///0', { platform: 'darwin' })).toMatchObject({ device: '0', inputFormat: 'avfoundation' });
    expect(parseCameraUrl('device:///video=Integrated%20Camera', { platform: 'win32' })).toMatchObject({
      device: 'video=Integrated Camera',
      inputFormat: 'dshow',
    });
  });

  it.each([
    ['ftp://host/x', 'unknown scheme'],
    ['javascript://x', 'unknown scheme'],
    ['concat:/a.mp4|/b.mp4', 'ffmpeg protocol without //'],
    ['/abs/path.mp4', 'no scheme'],
    ['video.mp4', 'relative, no scheme'],
    ['file://relative/x.mp4', 'file URL with a host'],
    ['file:///dir/', 'directory'],
    ['-f lavfi -i testsrc', 'starts with -'],
    ['-i', 'option'],
    ['rtsp://cam/x\n-y', 'newline'],
    ['rtsp://cam/\u0000x', 'NUL'],
    [' rtsp://cam/x', 'leading space'],
    ['rtsp://', 'no host'],
    ['device:///etc/passwd', 'device outside /dev'],
    ['device:///dev/../etc/passwd', 'device path traversal'],
    ['', 'empty'],
    ['rtsp://x/' + 'a'.repeat(3000), 'too long'],
  ])('rejects %j (%s) with invalid_url', (url) => {
    expect(code(() => parseCameraUrl(url, { platform: 'linux' }))).toBe('invalid_url');
  });

  it('never echoes credentials in its errors', () => {
    try {
      parseCameraUrl('gopher://admin:hunter2@cam/x');
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });

  it('treats every source but a non-looping file as live', () => {
    expect(isLiveSource(parseCameraUrl('rtsp://c/x'))).toBe(true);
    expect(isLiveSource(parseCameraUrl('file:///a.mp4', { loop: true }))).toBe(true);
    expect(isLiveSource(parseCameraUrl('file:///a.mp4'))).toBe(false);
  });
});

describe('redactUrl', () => {
  it.each([
    ['rtsp://admin:secret@cam:554/x', 'rtsp://***@cam:554/x'],
    ['rtsp://token@cam/x', 'rtsp://***@cam/x'],
    ['rtsp://user:p@ss@cam/x', 'rtsp://***@cam/x'],
    ['rtsp://cam/x?a=b@c', 'rtsp://cam/x?a=b@c'],
    ['http://cam/x', 'http://cam/x'],
    ['[rtsp @ 0x55] method DESCRIBE failed: rtsp://u:pw@10.0.0.1:554/s: 401', '[rtsp @ 0x55] method DESCRIBE failed: rtsp://***@10.0.0.1:554/s: 401'],
  ])('%s → %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});

describe('redactUrl: secrets in the query string', () => {
  it.each([
    ['http://cam/x?token=s3cr3t', 'http://cam/x?token=***'],
    ['http://cam/x?fps=5&TOKEN=s3cr3t&w=1', 'http://cam/x?fps=5&TOKEN=***&w=1'],
    ['rtsp://u:p@cam/x?apikey=a;api_key=b&Password=c&pwd=d&pass=e', 'rtsp://***@cam/x?apikey=***;api_key=***&Password=***&pwd=***&pass=***'],
    ['https://cam/s.m3u8?X-Amz-Signature=ab&X-Amz-Credential=cd&sig=ef&auth=gh#frag', 'https://cam/s.m3u8?X-Amz-Signature=***&X-Amz-Credential=***&sig=***&auth=***#frag'],
    ['http://cam/x?access_token=a&client_secret=b&key=c&stream-key=d', 'http://cam/x?access_token=***&client_secret=***&key=***&stream-key=***'],
    // names that only contain a secret word are kept
    ['http://cam/x?keyframe=1&monkey=2&passive=3&signal=4', 'http://cam/x?keyframe=1&monkey=2&passive=3&signal=4'],
    // inside an ffmpeg error line or a JSON text
    ['[http @ 0x1] HTTP error 403 Forbidden: http://cam/x?token=abc: Server returned 403', '[http @ 0x1] HTTP error 403 Forbidden: http://cam/x?token=*** Server returned 403'],
    ['{"url":"http://cam/x?token=abc"}', '{"url":"http://cam/x?token=***"}'],
  ])('%s → %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it('error messages quote the URL redacted', () => {
    let message = '';
    try {
      parseCameraUrl('cam/x?token=s3cr3t');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('token=***');
    expect(message).not.toContain('s3cr3t');
  });
});

describe('parseCameraUrl: no parser differential with ffmpeg', () => {
  it('refuses a backslash in network URLs (the URL standard reads it as "/", ffmpeg does not)', () => {
    // new URL() says the host is a.example; ffmpeg would connect to 169.254.169.254
    expect(new URL('http://a.example\\@169.254.169.254/x').hostname).toBe('a.example');
    for (const u of ['http://a.example\\@169.254.169.254/x', 'rtsp://a\\b@cam/x', 'https://cam/x\\y']) {
      expect(code(() => parseCameraUrl(u)), u).toBe('invalid_url');
    }
  });
});
