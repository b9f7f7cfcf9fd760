import { decodePreview as decodePreviewBytes, type PreviewFrame } from '../../../src/contracts';

// The binary layouts live in the protocol module beside the JSON messages; this file adapts them to the SDK's inputs.
export { encodePreview, type PreviewFrame } from '../../../src/contracts';

/**
 * Decodes a server → client binary preview
 * ([1 byte 0x01][2 bytes BE camera id length][camera id utf8][8 bytes BE float64 ts][JPEG]) from whatever the socket
 * delivered (ArrayBuffer in browsers, Buffer/Uint8Array in Node). Null for anything else.
 */
export function decodePreview(data: ArrayBuffer | ArrayBufferView): PreviewFrame | null {
  const bytes =
    data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return decodePreviewBytes(bytes);
}

/** A browser camera frame, client → server: [1 byte channel from the browser.open ack][JPEG or WebP bytes]. */
export function encodeBrowserFrame(channel: number, image: Uint8Array): Uint8Array {
  const out = new Uint8Array(image.length + 1);
  out[0] = channel;
  out.set(image, 1);
  return out;
}
