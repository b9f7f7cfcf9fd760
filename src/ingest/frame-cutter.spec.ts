import { describe, expect, it } from 'vitest';
import { FrameCutter } from './frame-cutter';
import { OutputSizeParser } from './ffmpeg.source';

/** A stream of `n` frames of `size` bytes where every byte encodes (frame index, offset). */
function stream(n: number, size: number): Buffer {
  const b = Buffer.alloc(n * size);
  for (let i = 0; i < b.length; i++) b[i] = (Math.floor(i / size) * 31 + (i % size)) & 0xff;
  return b;
}

function cut(data: Buffer, size: number, chunkSizes: number[]): Buffer[] {
  const cutter = new FrameCutter(size);
  const out: Buffer[] = [];
  let off = 0;
  let k = 0;
  while (off < data.length) {
    const len = Math.min(chunkSizes[k++ % chunkSizes.length], data.length - off);
    cutter.push(data.subarray(off, off + len), (f) => out.push(Buffer.from(f)));
    off += len;
  }
  return out;
}

describe('FrameCutter', () => {
  const size = 12; // a 2x2 BGR24 frame
  const data = stream(7, size);
  const expected = Array.from({ length: 7 }, (_, i) => data.subarray(i * size, (i + 1) * size));

  it.each([[[1]], [[5]], [[12]], [[13]], [[7, 1, 30]], [[100]], [[11, 13]], [[3, 24, 1, 2]]])(
    'reassembles exact frames with chunk sizes %j',
    (chunks) => {
      const frames = cut(data, size, chunks);
      expect(frames).toHaveLength(7);
      frames.forEach((f, i) => expect(f.equals(expected[i])).toBe(true));
    },
  );

  it('keeps an incomplete trailing frame pending and emits nothing for it', () => {
    const cutter = new FrameCutter(size);
    const out: Buffer[] = [];
    cutter.push(data.subarray(0, size + 5), (f) => out.push(f));
    expect(out).toHaveLength(1);
    expect(cutter.pendingBytes).toBe(5);
  });

  it('hands out whole in-chunk frames without copying', () => {
    const cutter = new FrameCutter(size);
    const out: Buffer[] = [];
    cutter.push(data, (f) => out.push(f));
    expect(out[3].buffer).toBe(data.buffer);
  });

  it('randomised chunking always reproduces the stream', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 40) + 1;
    const big = stream(50, 300);
    const frames = cut(big, 300, Array.from({ length: 200 }, rnd).map((x) => x * 7));
    expect(Buffer.concat(frames).equals(big)).toBe(true);
  });
});

describe('OutputSizeParser', () => {
  it('takes the size of the output stream (5.1), not the input one, and not the fourcc', () => {
    const p = new OutputSizeParser();
    p.line("Input #0, lavfi, from 'testsrc':");
    p.line('  Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24, 1280x720 [SAR 1:1 DAR 16:9], 25 tbr, 25 tbn');
    expect(p.size).toBeNull();
    p.line("Output #0, rawvideo, to 'pipe:1':");
    p.line('  Stream #0:0: Video: rawvideo (BGR[24] / 0x18524742), bgr24(pc, gbr/unknown/unknown, progressive), 640x360 [SAR 1:1 DAR 16:9], q=2-31, 55296 kb/s, 10 fps, 10 tbn');
    expect(p.size).toEqual({ width: 640, height: 360 });
  });
  it('reads the 2018 build line', () => {
    const p = new OutputSizeParser();
    p.line("Output #0, rawvideo, to 'pipe:1':");
    p.line('    Stream #0:0(und): Video: rawvideo (BGR[24] / 0x18524742), bgr24, 320x320, q=2-31, 24576 kb/s, 10 fps, 10 tbn, 10 tbc (default)');
    expect(p.size).toEqual({ width: 320, height: 320 });
  });
});
