import { BehaviorSubject, Observable, Subject, filter as rxFilter } from 'rxjs';
import { type ClientMessageType, CLOSE_CODES, type ServerMessage, WS_SUBPROTOCOL } from '../../../src/contracts';
import { backoffDelay, type BackoffOptions } from './backoff';
import { IExpressionError } from './errors';
import { decodePreview, encodeBrowserFrame, type PreviewFrame } from './preview';
import type { AckOf, CommandBody, EventOf, ServerEvent, ServerEventType } from './types';

/** The part of the WHATWG WebSocket the client uses; the browser's and the `ws` package's both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type WebSocketCtor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'unauthorized' | 'closed';

export interface ClientOptions {
  /** `ws://host:3000/ws`, or the server's http(s) base URL (then `/ws` is appended). */
  url: string;
  token?: string | null;
  /** WebSocket constructor; defaults to `globalThis.WebSocket`. In Node 20 pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketCtor | (new (url: string, protocols?: string | string[]) => unknown);
  /** Reconnect backoff, or false to stay closed after the first drop. */
  reconnect?: BackoffOptions | false;
  /** How long a command waits for its ack (including waiting for the connection). Default 10 s. */
  commandTimeoutMs?: number;
  /** How long to wait for the server's `hello` after the socket opens. Default 2 s. */
  helloTimeoutMs?: number;
  /** Events kept per async iterator before the oldest are dropped. Default 1000. */
  iteratorBuffer?: number;
}

export interface SubscribeOptions {
  cameras: string[] | '*';
  /** Also receive low-rate JPEG previews of these cameras. */
  preview?: boolean;
}

export interface Subscription {
  readonly cameras: string[] | '*';
  readonly preview: boolean;
  /** Events of this subscription's cameras only. */
  readonly events$: Observable<ServerEvent>;
  unsubscribe(): Promise<void>;
}

export type EventFilter = ServerEventType | ServerEventType[] | ((event: ServerEvent) => boolean);

interface Pending {
  type: ClientMessageType;
  message: Record<string, unknown>;
  sent: boolean;
  /** Resolves the caller's typed promise; the ack's shape is the server's promise (AckPayloads), not checked here. */
  resolve(ack: { type: 'ack'; id: string }): void;
  reject(err: IExpressionError): void;
  timer: ReturnType<typeof setTimeout>;
}

interface SubscriptionRecord {
  cameras: string[] | '*';
  preview: boolean;
}

const OPEN = 1;
/** RFC 6455 subprotocol names are HTTP tokens: a token outside that alphabet goes in an `auth` message instead. */
const SUBPROTOCOL_TOKEN = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
/** Close code the gateway uses for a missing or rejected token. */
export const CLOSE_UNAUTHORIZED = CLOSE_CODES.unauthorized;

function toWsUrl(url: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/ws';
  return u.toString();
}

function matches(filter: EventFilter | undefined, event: ServerEvent): boolean {
  if (!filter) return true;
  if (typeof filter === 'function') return filter(event);
  return Array.isArray(filter) ? filter.includes(event.type) : filter === event.type;
}

function eventCamera(event: ServerEvent): string | null {
  return 'cameraId' in event && typeof event.cameraId === 'string' ? event.cameraId : null;
}

/**
 * A WebSocket client for the iExpressionNet gateway: commands as promises of their ack, events as an async iterator
 * or an RxJS Observable, automatic reconnection with backoff, and subscriptions restored after every reconnect.
 */
export class IExpressionClient {
  private socket: WebSocketLike | null = null;
  private readonly options: ClientOptions;
  private token: string | null;
  private readonly stateSubject = new BehaviorSubject<ConnectionState>('idle');
  private readonly eventSubject = new Subject<ServerEvent>();
  private readonly previewSubject = new Subject<PreviewFrame>();
  private readonly reconnectedSubject = new Subject<void>();
  private readonly pending = new Map<string, Pending>();
  private readonly subscriptions = new Set<SubscriptionRecord>();
  private nextId = 1;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private everOpened = false;
  private helloWaiter: ((hello: EventOf<'hello'>) => void) | null = null;
  private openWaiters: Array<{ resolve(): void; reject(err: IExpressionError): void }> = [];
  /** The last `hello` from the server. */
  hello: EventOf<'hello'> | null = null;
  /** The close code and reason of the last drop, for display. */
  lastClose: { code: number; reason: string } | null = null;

  /** Connection state changes, starting with the current one. */
  readonly state$: Observable<ConnectionState> = this.stateSubject.asObservable();
  /** Every server event (acks excluded), as a hot Observable that completes on `close()`. */
  readonly events$: Observable<ServerEvent> = this.eventSubject.asObservable();
  /** Decoded preview frames of cameras subscribed with `preview: true`. */
  readonly previews$: Observable<PreviewFrame> = this.previewSubject.asObservable();
  /** Fires after each reconnect, once subscriptions have been restored. */
  readonly reconnected$: Observable<void> = this.reconnectedSubject.asObservable();

  constructor(options: ClientOptions) {
    this.options = { ...options, url: toWsUrl(options.url) };
    this.token = options.token ?? null;
  }

  get state(): ConnectionState {
    return this.stateSubject.value;
  }

  get url(): string {
    return this.options.url;
  }

  /** Opens the connection; resolves once it is open and authenticated, rejects on a rejected token. */
  connect(): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
    const ready = this.whenOpen();
    if (this.state === 'idle' || this.state === 'closed' || this.state === 'unauthorized') this.open();
    return ready;
  }

  /** Replaces the token and reconnects with it. */
  setToken(token: string | null): Promise<void> {
    this.token = token;
    this.dropSocket();
    this.attempt = 0;
    const ready = this.whenOpen();
    this.open();
    return ready;
  }

  /** Closes for good: pending commands reject with `closed`, iterators end and Observables complete. */
  close(): void {
    this.setState('closed');
    this.dropSocket();
    this.failPending('closed', 'the client was closed', true);
    for (const waiter of this.openWaiters.splice(0)) waiter.reject(new IExpressionError('closed', 'the client was closed'));
    this.eventSubject.complete();
    this.previewSubject.complete();
    this.reconnectedSubject.complete();
    this.stateSubject.complete();
  }

  /** Sends a command and resolves with its ack, or rejects with an IExpressionError (server code, `timeout`, …). */
  command<T extends ClientMessageType>(
    type: T,
    body: CommandBody<T>,
    options: { timeoutMs?: number } = {},
  ): Promise<AckOf<T>> {
    if (this.state === 'closed') return Promise.reject(new IExpressionError('closed', 'the client was closed'));
    const id = `c${this.nextId++}`;
    const message = { type, id, ...body } as Record<string, unknown>;
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs ?? 10_000;
    return new Promise<AckOf<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new IExpressionError('timeout', `no answer to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      const entry: Pending = {
        type,
        message,
        sent: false,
        resolve: resolve as Pending['resolve'],
        reject,
        timer,
      };
      this.pending.set(id, entry);
      if (this.state === 'open') this.transmit(entry);
    });
  }

  /** Subscribes to cameras' events (and optionally previews); restored automatically after a reconnect. */
  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const record: SubscriptionRecord = { cameras: options.cameras, preview: options.preview ?? false };
    this.subscriptions.add(record);
    try {
      await this.command('subscribe', { cameras: record.cameras, ...(record.preview ? { preview: true } : {}) });
    } catch (err) {
      this.subscriptions.delete(record);
      throw err;
    }
    const inScope = (event: ServerEvent): boolean => {
      if (record.cameras === '*') return true;
      const camera = eventCamera(event);
      return camera === null || record.cameras.includes(camera);
    };
    return {
      cameras: record.cameras,
      preview: record.preview,
      events$: this.events$.pipe(rxFilter(inScope)),
      unsubscribe: async () => {
        if (!this.subscriptions.delete(record)) return;
        const stillWanted = new Set<string>();
        let wildcard = false;
        for (const other of this.subscriptions) {
          if (other.cameras === '*') wildcard = true;
          else other.cameras.forEach((c) => stillWanted.add(c));
        }
        if (wildcard) return;
        const cameras = record.cameras === '*' ? '*' : record.cameras.filter((c) => !stillWanted.has(c));
        if (cameras !== '*' && cameras.length === 0) return;
        if (this.state !== 'open') return; // nothing to undo on the server; it is not resubscribed either
        await this.command('unsubscribe', { cameras });
        if (cameras === '*' && stillWanted.size > 0) await this.command('subscribe', { cameras: [...stillWanted] });
      },
    };
  }

  /** Events as an async iterator; `for await` ends when the client is closed or the loop breaks. */
  events(filter?: EventFilter): AsyncIterableIterator<ServerEvent> {
    const limit = this.options.iteratorBuffer ?? 1000;
    const buffer: ServerEvent[] = [];
    let waiting: ((result: IteratorResult<ServerEvent>) => void) | null = null;
    let done = false;
    const finish = (): void => {
      done = true;
      subscription.unsubscribe();
      waiting?.({ value: undefined, done: true });
      waiting = null;
    };
    const subscription = this.events$.subscribe({
      next: (event) => {
        if (!matches(filter, event)) return;
        if (waiting) {
          const resolve = waiting;
          waiting = null;
          resolve({ value: event, done: false });
        } else {
          buffer.push(event);
          if (buffer.length > limit) buffer.shift(); // a slow consumer loses the oldest events, not memory
        }
      },
      complete: finish,
    });
    const iterator: AsyncIterableIterator<ServerEvent> = {
      next: () => {
        if (buffer.length > 0) return Promise.resolve({ value: buffer.shift()!, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (waiting = resolve));
      },
      return: () => {
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** One event type as an Observable, typed. */
  observe<T extends ServerEventType>(type: T): Observable<EventOf<T>> {
    return this.events$.pipe(rxFilter((e): e is EventOf<T> => e.type === type));
  }

  /** Calls `handler` for each event of `type`; returns the function that stops it. */
  on<T extends ServerEventType>(type: T, handler: (event: EventOf<T>) => void): () => void {
    const subscription = this.observe(type).subscribe(handler);
    return () => subscription.unsubscribe();
  }

  /** Announces a browser camera; frames then go through `sendFrame(channel, jpeg)`. */
  async openBrowserCamera(options: { name?: string; fps?: number } = {}): Promise<{ cameraId: string; channel: number }> {
    const ack = await this.command('browser.open', options);
    if (typeof ack.cameraId !== 'string' || typeof ack.channel !== 'number') {
      throw new IExpressionError('internal', 'browser.open ack lacks cameraId/channel');
    }
    return { cameraId: ack.cameraId, channel: ack.channel };
  }

  /**
   * Sends one browser-camera frame. Returns false (frame skipped) when not connected or when more than
   * `maxBufferedBytes` are still queued in the socket: a slow link drops frames instead of building latency.
   */
  sendFrame(channel: number, image: Uint8Array, maxBufferedBytes = 512 * 1024): boolean {
    const socket = this.socket;
    if (!socket || this.state !== 'open' || socket.readyState !== OPEN) return false;
    if (socket.bufferedAmount > maxBufferedBytes) return false;
    socket.send(encodeBrowserFrame(channel, image));
    return true;
  }

  // ---- connection ------------------------------------------------------------------------------------------------

  private whenOpen(): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
    return new Promise((resolve, reject) => this.openWaiters.push({ resolve, reject }));
  }

  private setState(state: ConnectionState): void {
    if (this.stateSubject.value !== state && !this.stateSubject.closed) this.stateSubject.next(state);
  }

  private open(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const Ctor = (this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket) as WebSocketCtor | undefined;
    if (!Ctor) throw new Error('no WebSocket implementation: pass options.WebSocket (the `ws` package in Node)');
    this.setState(this.everOpened ? 'reconnecting' : 'connecting');
    const useSubprotocol = this.token !== null && SUBPROTOCOL_TOKEN.test(this.token);
    let socket: WebSocketLike;
    try {
      // The server echoes the non-secret protocol name, so the token never comes back in a response header.
      socket = new Ctor(this.options.url, useSubprotocol ? [WS_SUBPROTOCOL, `bearer.${this.token}`] : [WS_SUBPROTOCOL]);
    } catch (err) {
      this.handleClose({ code: 1006, reason: err instanceof Error ? err.message : String(err) });
      return;
    }
    this.socket = socket;
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => {
      if (this.socket !== socket) return;
      void this.afterOpen(!useSubprotocol && this.token !== null);
    };
    socket.onmessage = (ev) => {
      if (this.socket === socket) this.handleMessage(ev.data);
    };
    socket.onerror = () => {
      // a close always follows; reconnection is handled there
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.handleClose({ code: ev.code, reason: ev.reason });
    };
  }

  private async afterOpen(sendAuthMessage: boolean): Promise<void> {
    const socket = this.socket;
    // The gateway greets with `hello`; wait briefly for it so a refused token is known before we report `open`.
    const hello = await new Promise<EventOf<'hello'> | null>((resolve) => {
      const timer = setTimeout(() => {
        this.helloWaiter = null;
        resolve(null);
      }, this.options.helloTimeoutMs ?? 2000);
      this.helloWaiter = (message) => {
        clearTimeout(timer);
        this.helloWaiter = null;
        resolve(message);
      };
    });
    if (this.socket !== socket) return;
    if (hello && !hello.authenticated && !sendAuthMessage) {
      this.dropSocket();
      this.handleClose({ code: CLOSE_UNAUTHORIZED, reason: this.token ? 'token rejected' : 'a token is required' });
      return;
    }
    if (sendAuthMessage) {
      const id = `c${this.nextId++}`;
      const ok = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          this.pending.delete(id);
          resolve(false);
        }, this.options.commandTimeoutMs ?? 10_000);
        this.pending.set(id, {
          type: 'auth',
          message: { type: 'auth', id, token: this.token },
          sent: true,
          resolve: () => resolve(true),
          reject: () => resolve(false),
          timer,
        });
        socket?.send(JSON.stringify({ type: 'auth', id, token: this.token }));
      });
      if (!ok) {
        if (this.socket === socket) {
          this.dropSocket();
          this.handleClose({ code: CLOSE_UNAUTHORIZED, reason: 'token rejected' });
        }
        return;
      }
    }
    if (this.socket !== socket) return;
    const reconnect = this.everOpened;
    this.everOpened = true;
    this.attempt = 0;
    this.setState('open');
    for (const waiter of this.openWaiters.splice(0)) waiter.resolve();
    for (const entry of this.pending.values()) if (!entry.sent) this.transmit(entry);
    if (reconnect) {
      const restores = [...this.subscriptions].map((s) =>
        this.command('subscribe', { cameras: s.cameras, ...(s.preview ? { preview: true } : {}) }).catch((err) => {
          this.eventSubject.next({ type: 'error', id: null, code: err.code === 'timeout' ? 'unavailable' : err.code, message: `resubscribe failed: ${err.message}` } as ServerEvent);
        }),
      );
      await Promise.all(restores);
      this.reconnectedSubject.next();
    }
  }

  private handleClose(close: { code: number; reason: string }): void {
    this.lastClose = close;
    this.failPending('disconnected', `connection lost (${close.code}${close.reason ? `: ${close.reason}` : ''})`, false);
    if (this.state === 'closed') return;
    if (close.code === CLOSE_UNAUTHORIZED) {
      // Retrying with the same token cannot succeed: wait for setToken().
      this.setState('unauthorized');
      const err = new IExpressionError('unauthorized', close.reason || 'the server rejected the token');
      for (const waiter of this.openWaiters.splice(0)) waiter.reject(err);
      this.failPending('unauthorized', err.message, true);
      return;
    }
    if (this.options.reconnect === false) {
      this.setState('closed');
      for (const waiter of this.openWaiters.splice(0)) waiter.reject(new IExpressionError('disconnected', 'connection lost'));
      return;
    }
    this.setState('reconnecting');
    const delay = backoffDelay(this.attempt++, this.options.reconnect || {});
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  private dropSocket(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const socket = this.socket;
    this.socket = null;
    this.helloWaiter = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
      try {
        socket.close(1000, 'client closing');
      } catch {
        // already closed
      }
    }
  }

  /** Rejects sent commands (their outcome is unknown); with `all`, also those still queued. */
  private failPending(code: 'disconnected' | 'closed' | 'unauthorized', message: string, all: boolean): void {
    for (const [id, entry] of this.pending) {
      if (!entry.sent && !all) continue;
      clearTimeout(entry.timer);
      this.pending.delete(id);
      entry.reject(new IExpressionError(code, `${entry.type}: ${message}`));
    }
  }

  private transmit(entry: Pending): void {
    entry.sent = true;
    this.socket?.send(JSON.stringify(entry.message));
  }

  private handleMessage(data: unknown): void {
    if (typeof data !== 'string') {
      const frame = decodePreview(data as ArrayBuffer);
      if (frame) this.previewSubject.next(frame);
      return;
    }
    let message: ServerMessage;
    try {
      message = JSON.parse(data) as ServerMessage;
    } catch {
      return;
    }
    if (message.type === 'ack' || (message.type === 'error' && message.id !== null && this.pending.has(message.id))) {
      const entry = this.pending.get(message.id!);
      if (!entry) return;
      this.pending.delete(message.id!);
      clearTimeout(entry.timer);
      if (message.type === 'ack') entry.resolve(message);
      else entry.reject(new IExpressionError(message.code, message.message));
      return;
    }
    if (message.type === 'hello') {
      this.hello = message;
      this.helloWaiter?.(message);
    }
    this.eventSubject.next(message as ServerEvent);
  }
}
