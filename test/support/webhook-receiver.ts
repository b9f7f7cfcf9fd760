/** A real webhook receiver (node:http on 127.0.0.1:0) and the verification snippet of docs/INTEGRATIONS.md, run as documented. */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { WebhookBody } from '../../src/contracts/webhooks';
import { ROOT } from './paths';

export type Verify = (secret: string, headers: Record<string, unknown>, rawBody: Buffer, seen: Set<string>, maxAgeSeconds?: number) => WebhookBody;

/** The receiver snippet of docs/INTEGRATIONS.md ("verify-iexpressionnet.js"), evaluated as a reader would paste it. */
export function documentedVerify(): Verify {
  const doc = readFileSync(join(ROOT, 'docs', 'INTEGRATIONS.md'), 'utf8');
  const block = /```js\n(\/\/ verify-iexpressionnet\.js[\s\S]*?)```/.exec(doc);
  if (!block) throw new Error('docs/INTEGRATIONS.md has no verify-iexpressionnet.js snippet');
  return new Function('require', `${block[1]}\nreturn verifyIExpressionNet;`)(createRequire(__filename)) as Verify;
}

export interface ReceivedHook {
  headers: IncomingMessage['headers'];
  raw: Buffer;
  at: number;
  /** The client's port: requests on one kept-alive connection share it. */
  remotePort: number;
}

export interface WebhookReceiver {
  got: ReceivedHook[];
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Records each request and lets `reply` answer it (or never: a hanging receiver). */
export async function startWebhookReceiver(reply: (req: ReceivedHook, n: number, res: ServerResponse) => void | Promise<void>): Promise<WebhookReceiver> {
  const got: ReceivedHook[] = [];
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { headers: req.headers, raw: Buffer.concat(chunks), at: Date.now(), remotePort: req.socket.remotePort ?? 0 };
      got.push(r);
      open.add(res);
      res.on('close', () => open.delete(res));
      void reply(r, got.length, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    got,
    port,
    url: `http://127.0.0.1:${port}/hook`,
    close: () => {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
