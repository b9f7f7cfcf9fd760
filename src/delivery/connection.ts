import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Principal } from '../auth/auth.service';
import type { ErrorCode } from '../contracts/errors';
import type { ServerMessage } from '../contracts/messages';
import { CameraSet } from './camera-set';
import type { DeliveryMetrics } from './delivery.metrics';
import type { BrowserCamera } from './delivery.tokens';
import { TokenBucket } from './token-bucket';

export interface ConnectionLimits {
  maxTextBytes: number;
  maxBinaryBytes: number;
  /** Events are dropped above this many unsent bytes; replies above 4x (a client that never reads). */
  maxBufferedBytes: number;
  messagesPerSec: number;
  messageBurst: number;
  previewBytesPerSec: number;
}

/** Browser cameras per connection: the channel is one byte, and one tab rarely has more than a couple of cameras. */
export const MAX_BROWSER_CHANNELS = 8;
const OPEN = 1;

/** One WebSocket client: who it is, what it wants, its limits. Handlers see it as `ctx.connection`. */
export class Connection {
  readonly id = randomBytes(6).toString('hex');
  principal: Principal | null = null;
  /** Cameras whose events this client wants, and those whose previews it wants. */
  readonly events = new CameraSet();
  readonly previews = new CameraSet();
  readonly channels = new Map<number, BrowserCamera>();
  readonly messageBucket: TokenBucket;
  readonly previewBucket: TokenBucket;
  droppedEvents = 0;
  authTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly socket: WebSocket,
    readonly limits: ConnectionLimits,
    private readonly metrics: DeliveryMetrics,
    readonly remoteAddress: string | undefined,
  ) {
    this.messageBucket = new TokenBucket(limits.messagesPerSec, limits.messageBurst);
    this.previewBucket = new TokenBucket(limits.previewBytesPerSec, limits.previewBytesPerSec);
  }

  get isOpen(): boolean {
    return this.socket.readyState === OPEN;
  }

  /** A reply (ack, error, hello). Sent unless the client has stopped reading altogether. */
  reply(msg: ServerMessage): void {
    if (!this.isOpen || this.socket.bufferedAmount > 4 * this.limits.maxBufferedBytes) return;
    if (msg.type === 'error') this.metrics.errors.inc({ code: msg.code });
    this.socket.send(JSON.stringify(msg));
  }

  error(id: string | null, code: ErrorCode, message: string): void {
    this.reply({ type: 'error', id, code, message });
  }

  /**
   * An event, already serialized (once for all clients). Dropped and counted when this client is behind: a slow
   * client never delays the others or the pipeline, and never makes the server queue without bound.
   */
  sendEvent(json: string, type: string): boolean {
    if (!this.isOpen) return false;
    if (this.socket.bufferedAmount > this.limits.maxBufferedBytes) {
      this.droppedEvents++;
      this.metrics.eventsDropped.inc({ type });
      return false;
    }
    this.socket.send(json);
    this.metrics.eventsSent.inc({ type });
    return true;
  }

  /** A preview, within the per-connection preview bandwidth. */
  sendPreview(data: Uint8Array): boolean {
    if (!this.isOpen) return false;
    if (this.socket.bufferedAmount > this.limits.maxBufferedBytes) {
      this.metrics.previewsDropped.inc({ reason: 'backpressure' });
      return false;
    }
    if (!this.previewBucket.take(data.length)) {
      this.metrics.previewsDropped.inc({ reason: 'bandwidth' });
      return false;
    }
    this.socket.send(data, { binary: true });
    this.metrics.previewsSent.inc();
    this.metrics.previewBytes.inc(data.length);
    return true;
  }

  /** The lowest free browser channel, or null when all MAX_BROWSER_CHANNELS are taken. */
  freeChannel(): number | null {
    for (let c = 0; c < MAX_BROWSER_CHANNELS; c++) if (!this.channels.has(c)) return c;
    return null;
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState <= OPEN) this.socket.close(code, reason);
  }

  /**
   * Ends a connection whose principal no longer holds (its token was revoked). The principal goes first: a message
   * that arrives before the close handshake completes finds no principal and a socket that is not open, so it runs
   * nothing (ExpressionGateway drops messages on a closing socket; CommandRouter needs a principal).
   */
  revoke(code: number, reason: string): void {
    this.principal = null;
    this.close(code, reason);
  }
}
