/**
 * Cuts a byte stream into exact `frameBytes`-sized frames. A frame that lies whole inside one chunk is a zero-copy
 * view of that chunk; a frame spanning chunks is assembled once into its own buffer (one copy per byte, no concat of
 * the whole backlog). ffmpeg pipe chunks are 64 KiB, so at 640x480 (921,600 bytes) most frames are assembled.
 */
export class FrameCutter {
  private partial: Buffer | null = null;
  private filled = 0;

  constructor(readonly frameBytes: number) {
    if (!Number.isInteger(frameBytes) || frameBytes <= 0) throw new RangeError(`frame size must be > 0, got ${frameBytes}`);
  }

  /** Bytes held of an incomplete frame. */
  get pendingBytes(): number {
    return this.filled;
  }

  push(chunk: Buffer, emit: (frame: Buffer) => void): void {
    let offset = 0;
    if (this.partial) {
      const n = Math.min(this.frameBytes - this.filled, chunk.length);
      chunk.copy(this.partial, this.filled, 0, n);
      this.filled += n;
      offset = n;
      if (this.filled < this.frameBytes) return;
      const frame = this.partial;
      this.partial = null;
      this.filled = 0;
      emit(frame);
    }
    while (chunk.length - offset >= this.frameBytes) {
      emit(chunk.subarray(offset, offset + this.frameBytes));
      offset += this.frameBytes;
    }
    if (offset < chunk.length) {
      this.partial = Buffer.allocUnsafe(this.frameBytes);
      this.filled = chunk.copy(this.partial, 0, offset);
    }
  }
}
