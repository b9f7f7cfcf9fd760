import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
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
  signal?: AbortSignal;
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
 * followed: it could point anywhere, past the policy) and other 4xx are not. No connection pooling: each attempt
 * connects to the address that was just checked. The response body is read and discarded (at most 64 KiB).
 */
export function postOnce(o: PostOptions): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const request = o.url.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (err: WebhookAttemptError | null, status?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(status!);
    };
    const req = request(o.url, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(o.body)), ...o.headers },
      ...(o.address ? { lookup: pinned(o.address) } : {}),
    });
    const timer = setTimeout(() => {
      finish(new WebhookAttemptError(`timed out after ${o.timeoutMs} ms`, true));
      req.destroy();
    }, o.timeoutMs);
    const onAbort = () => {
      finish(new WebhookAttemptError('cancelled (server shutting down)', false));
      req.destroy();
    };
    o.signal?.addEventListener('abort', onAbort);
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
