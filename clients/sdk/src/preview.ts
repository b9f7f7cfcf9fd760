import { PREVIEW_TAG } from '../../../src/delivery/protocol';

export interface PreviewFrame {
  cameraId: string;
  /** Capture time, ms since epoch: match it with an expression event's `ts`. */
  ts: number;
  /** JPEG bytes. */
  jpeg: Uint8Array;
}

/**
 * Decodes a server → client binary preview:
 * [1 byte 0x01][2 bytes BE camera id length][camera id utf8][8 bytes BE float64 ts][JPEG].
 * Returns null for anything else (unknown tag, truncated).
 */
export function decodePreview(data: ArrayBuffer | ArrayBufferView): PreviewFrame | null {
  const bytes =
    data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length < 11 || bytes[0] !== PREVIEW_TAG) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idLength = view.getUint16(1);
  const tsOffset = 3 + idLength;
  if (bytes.length < tsOffset + 8) return null;
  const cameraId = new TextDecoder().decode(bytes.subarray(3, tsOffset));
  const ts = view.getFloat64(tsOffset);
  return { cameraId, ts, jpeg: bytes.subarray(tsOffset + 8) };
}

/** The inverse of decodePreview (used by servers and test doubles). */
export function encodePreview(cameraId: string, ts: number, jpeg: Uint8Array): Uint8Array {
  const id = new TextEncoder().encode(cameraId);
  const out = new Uint8Array(3 + id.length + 8 + jpeg.length);
  const view = new DataView(out.buffer);
  out[0] = PREVIEW_TAG;
  view.setUint16(1, id.length);
  out.set(id, 3);
  view.setFloat64(3 + id.length, ts);
  out.set(jpeg, 3 + id.length + 8);
  return out;
}

/** A browser camera frame: [1 byte channel][JPEG or WebP bytes]. */
export function encodeBrowserFrame(channel: number, image: Uint8Array): Uint8Array {
  const out = new Uint8Array(image.length + 1);
  out[0] = channel;
  out.set(image, 1);
  return out;
}
