import { describe, expect, it } from 'vitest';
import { parseCameraUrl } from './camera-url';
import { buildFfmpegArgs, FfmpegArgsOptions } from './ffmpeg.args';
import { capabilitiesFor } from './ffmpeg.locator';

const v5: FfmpegArgsOptions = { fps: 10, maxSide: 640, ioTimeoutUs: 5_000_000, capabilities: capabilitiesFor(59) };
const v4: FfmpegArgsOptions = { ...v5, capabilities: capabilitiesFor(58) };

/** The value following `flag` in the array. */
const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('buildFfmpegArgs', () => {
  it('always disables stdin and the banner, and writes BGR24 raw video to stdout', () => {
    const args = buildFfmpegArgs(parseCameraUrl('rtsp://cam/x'), v5);
    expect(args.slice(0, 3)).toEqual(['-nostdin', '-hide_banner', '-nostats']);
    expect(after(args, '-loglevel')).toBe('info');
    expect(args).toContain('-an');
    expect(after(args, '-f')).toBe('rawvideo');
    expect(after(args, '-pix_fmt')).toBe('bgr24');
    expect(args.at(-1)).toBe('pipe:1');
    expect(after(args, '-vf')).toBe('fps=10,scale=w=min(640\\,iw):h=min(640\\,ih):force_original_aspect_ratio=decrease');
  });

  it('uses -timeout on ffmpeg >= 5 and -stimeout on the 2018 build (where -timeout means listen)', () => {
    const a5 = buildFfmpegArgs(parseCameraUrl('rtsp://cam/x'), v5);
    expect(after(a5, '-timeout')).toBe('5000000');
    expect(a5).not.toContain('-stimeout');
    const a4 = buildFfmpegArgs(parseCameraUrl('rtsp://cam/x'), v4);
    expect(after(a4, '-stimeout')).toBe('5000000');
    expect(a4).not.toContain('-timeout');
  });

  it('sets the RTSP transport', () => {
    expect(after(buildFfmpegArgs(parseCameraUrl('rtsp://c/x'), v5), '-rtsp_transport')).toBe('tcp');
    expect(after(buildFfmpegArgs(parseCameraUrl('rtsp://c/x', { transport: 'udp' }), v5), '-rtsp_transport')).toBe('udp');
  });

  it('reads files at their own rate, looping with -stream_loop -1 when asked', () => {
    const once = buildFfmpegArgs(parseCameraUrl('file:///v/a.mp4'), v5);
    expect(once).toContain('-re');
    expect(once).not.toContain('-stream_loop');
    expect(after(once, '-i')).toBe('file:/v/a.mp4');
    const looped = buildFfmpegArgs(parseCameraUrl('file:///v/a.mp4', { loop: true }), v5);
    expect(after(looped, '-stream_loop')).toBe('-1');
    expect(looped.indexOf('-stream_loop')).toBeLessThan(looped.indexOf('-i'));
  });

  it('uses the platform input format for webcams', () => {
    const a = buildFfmpegArgs(parseCameraUrl('device:///dev/video0', { platform: 'linux' }), v5);
    expect(a.slice(a.indexOf('-f'), a.indexOf('-f') + 4)).toEqual(['-f', 'v4l2', '-i', '/dev/video0']);
    const m = buildFfmpegArgs(parseCameraUrl('device:///0', { platform: 'darwin' }), v5);
    expect(after(m, '-f')).toBe('avfoundation');
  });

  it('gives the URL to ffmpeg as one argument right after -i, whatever it holds', () => {
    const url = 'rtsp://cam/x; rm -rf / -y -f null';
    const args = buildFfmpegArgs(parseCameraUrl(url), v5);
    expect(after(args, '-i')).toBe(url);
    expect(args.filter((a) => a === '-y')).toHaveLength(0);
  });

  it('rejects a non-positive fps', () => {
    expect(() => buildFfmpegArgs(parseCameraUrl('rtsp://c/x'), { ...v5, fps: 0 })).toThrow(RangeError);
  });
});
