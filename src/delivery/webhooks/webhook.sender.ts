import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';

/** Why one HTTP attempt did not deliver; `retryable` = another attempt may succeed. */
export class WebhookAttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

export interface PostOptions {
  url: URL;
  /** Connect to this address (the one the destination policy checked), not to a fresh look-up of the host. */
  address?: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Shutdown: cancels the attempt (not retryable). */
  cancel?: Cancellation;
  /** Keep-alive connections to exactly `address` (WebhookConnections.agentFor); none: a connection of its own. */
  agent?: HttpAgent;
}

/**
 * Cancels every attempt in flight at once (shutdown). Not an AbortSignal: EventTarget's addEventListener cost more than
 * a tenth of an attempt's event-loop time (measured at ~50 deliveries/s), and a Set does the same job.
 */
export class Cancellation {
  private readonly listeners = new Set<() => void>();
  private done = false;

  /** Calls `fn` on cancel (at once if already cancelled); returns the unsubscribe. */
  onCancel(fn: () => void): () => void {
    if (this.done) {
      fn();
      return () => {};
    }
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  cancel(): void {
    this.done = true;
    for (const fn of [...this.listeners]) fn();
    this.listeners.clear();
  }
}

/**
 * Keep-alive connections for webhook attempts, one pool per destination *address* (and protocol): an attempt reuses
 * only a connection to the address its own policy check returned, so pooling opens no DNS-rebinding window. A new TCP
 * (and TLS) connection per delivery cost the event loop more than the rest of a delivery (bench:pipeline
 * --webhook-rule flood). Idle connections never keep the process alive (Node unrefs them) and close after IDLE_MS:
 * shorter than the usual server keep-alive timeouts (Node 5 s, Apache 5 s, nginx 75 s), so we close first rather than
 * send on a connection the receiver is closing (that attempt would fail and wait for a retry).
 */
export class WebhookConnections {
  static readonly IDLE_MS = 4000;
  private readonly agents = new Map<string, HttpAgent>();

  constructor(private readonly maxSockets: number) {}

  agentFor(url: URL, address: string | undefined): HttpAgent {
    const key = `${url.protocol}//${address ?? url.hostname}:${url.port}`;
    let agent = this.agents.get(key);
    if (!agent) {
      const options = { keepAlive: true, maxSockets: this.maxSockets, timeout: WebhookConnections.IDLE_MS };
      agent = url.protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options);
      this.agents.set(key, agent);
    }
    return agent;
  }

  get pools(): number {
    return this.agents.size;
  }

  /** Closes every connection (shutdown). */
  destroy(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}

/** A look-up that always answers `address`: the connection goes where the policy looked (no DNS rebinding window). */
function pinned(address: string): LookupFunction {
  const family = isIP(address) === 6 ? 6 : 4;
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as unknown as LookupFunction;
}

/**
 * One POST. Resolves with the status of a 2xx answer; throws WebhookAttemptError otherwise: network errors, the
 * timeout (the whole exchange, response body included), 5xx, 408 and 429 are retryable; a redirect (3xx, never
 * followed: it could point anywhere, past the policy) and other 4xx are not. The connection goes to the address that was
 * just checked (a new one, or a kept-alive one to that same address through `agent`). The response body is read and
 * discarded (at most 64 KiB).
 */
export function postOnce(o: PostOptions): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const request = o.url.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (err: WebhookAttemptError | null, status?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stopListening();
      if (err) reject(err);
      else resolve(status!);
    };
    const req = request(o.url, {
      method: 'POST',
      agent: o.agent ?? false,
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(o.body)), ...o.headers },
      ...(o.address ? { lookup: pinned(o.address) } : {}),
    });
    const timer = setTimeout(() => {
      finish(new WebhookAttemptError(`timed out after ${o.timeoutMs} ms`, true));
      req.destroy();
    }, o.timeoutMs);
    const stopListening =
      o.cancel?.onCancel(() => {
        finish(new WebhookAttemptError('cancelled (server shutting down)', false));
        req.destroy();
      }) ?? (() => {});
    req.on('error', (e: NodeJS.ErrnoException) => finish(new WebhookAttemptError(`network error: ${e.code ?? e.message}`, true)));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read > 64 * 1024) res.destroy();
      });
      const done = () => {
        if (status >= 200 && status < 300) finish(null, status);
        else finish(classify(status, res.headers));
      };
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
    req.end(o.body);
  });
}

function classify(status: number, headers: IncomingHttpHeaders): WebhookAttemptError {
  if (status >= 300 && status < 400) {
    return new WebhookAttemptError(`HTTP ${status}: redirects are not followed${headers.location ? ' (Location ignored)' : ''}`, false, status);
  }
  const retryable = status >= 500 || status === 408 || status === 429;
  return new WebhookAttemptError(`HTTP ${status}`, retryable, status);
}
