/**
 * The WebSocket wire: protocol version, subprotocol, close codes, and the binary preview message.
 * Protocol version: bump PROTOCOL_VERSION when a message changes incompatibly.
 */

export const PROTOCOL_VERSION = 1;

/**
 * Binary messages.
 * client -> server: a browser camera frame = [1 byte channel][JPEG or WebP bytes]; the channel comes from the
 *   `browser.open` ack.
 * server -> client: a preview = [1 byte 0x01][2 bytes BE camera id length][camera id utf8][8 bytes BE float64 ts][JPEG].
 */
export const PREVIEW_TAG = 0x01;

/** WebSocket close codes the server uses (4000-4999 are application codes; 4401/4403 mirror HTTP). */
export const CLOSE_CODES = {
  /**
   * No valid token: none in the handshake and no `auth` message before the deadline, a wrong token, or a token that
   * stopped being valid on an open socket (revoked; or the first token was created on an open server). Clients treat
   * it as "sign in again", never as "reconnect with the same token".
   */
  unauthorized: 4401,
  /** The browser's Origin is not this server's and not in ALLOWED_ORIGINS. */
  forbiddenOrigin: 4403,
  /** The server is shutting down. */
  goingAway: 1001,
  /** Over MAX_CONNECTIONS or MAX_CONNECTIONS_PER_IP (RFC 6455's "Try Again Later"): retry with backoff. */
  tryAgainLater: 1013,
} as const;

/** Subprotocol a client offers beside `bearer.<token>` so the server has a non-secret one to select. */
export const WS_SUBPROTOCOL = 'iex.v1';

export interface PreviewFrame {
  cameraId: string;
  /** Capture time of the frame, ms since epoch. */
  ts: number;
  jpeg: Uint8Array;
}

/** Builds a preview binary message (layout above PREVIEW_TAG). Works on Uint8Array so browsers can use it too. */
export function encodePreview(p: PreviewFrame): Uint8Array {
  const id = new TextEncoder().encode(p.cameraId);
  const out = new Uint8Array(1 + 2 + id.length + 8 + p.jpeg.length);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = PREVIEW_TAG;
  view.setUint16(1, id.length);
  out.set(id, 3);
  view.setFloat64(3 + id.length, p.ts);
  out.set(p.jpeg, 11 + id.length);
  return out;
}

/** Parses a preview binary message; null when it is not one. */
export function decodePreview(data: Uint8Array): PreviewFrame | null {
  if (data.length < 11 || data[0] !== PREVIEW_TAG) return null;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const n = view.getUint16(1);
  if (data.length < 11 + n) return null;
  return {
    cameraId: new TextDecoder().decode(data.subarray(3, 3 + n)),
    ts: view.getFloat64(3 + n),
    jpeg: data.subarray(11 + n),
  };
}
