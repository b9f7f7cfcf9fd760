/**
 * Issue 12, findings 3 and 7: a revoked token ends the WebSockets that use it (the CLI is another process, seen here
 * through its own database connection, exactly as `npm run token -- revoke` does), and connection caps.
 */
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenStore } from '../../src/auth/token.store';
import { runTokenCli } from '../../scripts/token';
import { startTestServer, TestClient, type Received, type TestServer } from '../support/server';

const ADMIN = 'admin-token-0123456789';
const isHello = (m: Received) => m.type === 'hello';

const servers: TestServer[] = [];
const clients: TestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const s of servers.splice(0)) await s.close();
});
async function server(env: Record<string, string>): Promise<TestServer> {
  const s = await startTestServer(env);
  servers.push(s);
  return s;
}
async function connect(s: TestServer, options: Parameters<typeof TestClient.connect>[1] = {}): Promise<TestClient> {
  const c = await TestClient.connect(s.wsUrl, options);
  clients.push(c);
  return c;
}
/** `npm run token -- …` in-process, on its own database connection (not the server's). */
function cli(s: TestServer, ...args: string[]): string[] {
  const out: string[] = [];
  const code = runTokenCli(args, s.config.dataDir, (l) => out.push(l));
  expect(code, out.join('\n')).toBe(0);
  return out;
}
const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

describe('revocation reaches open WebSockets', () => {
  it('the token CLI revokes a stored token: its sockets close 4401 within 2 s and run nothing more; others stay', async () => {
    const s = await server({ ADMIN_TOKEN: ADMIN });
    const [doomed] = cli(s, 'create', '--scope', 'admin', '--name', 'laptop');
    const [kept] = cli(s, 'create', '--scope', 'admin', '--name', 'kiosk');

    const byHeader = await connect(s, bearer(doomed));
    expect(await byHeader.next(isHello)).toMatchObject({ authenticated: true, scope: 'admin' });
    const byMessage = await connect(s);
    expect(await byMessage.request({ type: 'auth', id: 'a', token: doomed })).toMatchObject({ type: 'ack', scope: 'admin' });
    const other = await connect(s, bearer(kept));
    const env = await connect(s, bearer(ADMIN));
    for (const c of [other, env]) expect(await c.next(isHello)).toMatchObject({ authenticated: true });
    expect(await byHeader.request({ type: 'camera.add', id: 'before', url: 'file:///x.mp4', name: 'before' })).toMatchObject({ type: 'ack' });

    // Keep commands coming while the revocation lands, as a live client would.
    let n = 0;
    const spam = setInterval(() => {
      if (byHeader.ws.readyState === byHeader.ws.OPEN) byHeader.send({ type: 'camera.add', id: `c${n}`, url: 'file:///x.mp4', name: `c${n++}` });
    }, 20);
    const revokedAt = Date.now();
    cli(s, 'revoke', 'laptop');
    // REST has no cache: the next request with the token is refused at once.
    await request(s.url).get('/api/cameras').set('Authorization', `Bearer ${doomed}`).expect(401);
    try {
      expect(await byHeader.waitClose(2000)).toEqual({ code: 4401, reason: 'token revoked' });
    } finally {
      clearInterval(spam);
    }
    expect(Date.now() - revokedAt).toBeLessThan(2000);
    expect(await byMessage.waitClose(2000)).toEqual({ code: 4401, reason: 'token revoked' });

    // Every camera that exists was acked before the close: nothing sent after the revocation was seen ran silently.
    await new Promise((r) => setTimeout(r, 100));
    const acked = byHeader.received.filter((m) => m.type === 'ack').map((m) => (m as { id: string }).id);
    const created = [...s.cameras.cameras.values()].map((c) => c.name).filter((name) => name !== 'before');
    expect(created.sort()).toEqual(acked.sort());

    // The other stored token and the env token are untouched.
    for (const c of [other, env]) {
      expect(c.closed).toBeNull();
      expect(await c.request({ type: 'camera.list', id: 'still' })).toMatchObject({ type: 'ack' });
    }
    // And the revoked token cannot come back in.
    const again = await connect(s, bearer(doomed));
    expect(await again.waitClose()).toEqual({ code: 4401, reason: 'invalid token' });
  });

  it('a revocation inside the server process (TokenStore) closes at once', async () => {
    const s = await server({ ADMIN_TOKEN: ADMIN });
    const t = s.app.get(TokenStore).create('read', 'viewer');
    const c = await connect(s, bearer(t.token));
    expect(await c.next(isHello)).toMatchObject({ scope: 'read' });
    expect(s.app.get(TokenStore).revoke('viewer')).toBe(1);
    expect(await c.waitClose(2000)).toEqual({ code: 4401, reason: 'token revoked' });
  });

  it('the first token created on an open server ends the open (tokenless) sockets', async () => {
    const s = await server({});
    const c = await connect(s);
    expect(await c.next(isHello)).toMatchObject({ authenticated: true, scope: 'admin' });
    cli(s, 'create', '--scope', 'admin', '--name', 'first');
    expect(await c.waitClose(2000)).toEqual({ code: 4401, reason: 'authentication required: a token now protects this server' });
  });
});

describe('connection caps', () => {
  it('MAX_CONNECTIONS_PER_IP and MAX_CONNECTIONS: the next socket is closed 1013 and counted; a freed slot is reused', async () => {
    const s = await server({ ADMIN_TOKEN: ADMIN, MAX_CONNECTIONS: '4', MAX_CONNECTIONS_PER_IP: '2' });
    // Linux routes all of 127/8 to loopback: other source addresses stand in for other hosts.
    const from = (localAddress: string, token?: string) => connect(s, { localAddress, ...(token ? bearer(token) : {}) });

    // Unauthenticated sockets count: two of them fill 127.0.0.1's quota.
    const a1 = await from('127.0.0.1');
    const a2 = await from('127.0.0.1');
    for (const c of [a1, a2]) expect(await c.next(isHello)).toMatchObject({ authenticated: false });
    const a3 = await from('127.0.0.1', ADMIN);
    expect(await a3.waitClose()).toEqual({ code: 1013, reason: 'too many connections from this address (limit 2), try again later' });
    expect(a3.received.filter(isHello)).toEqual([]);

    // Another address still gets in, up to the global cap.
    const b1 = await from('127.0.0.2', ADMIN);
    const b2 = await from('127.0.0.3', ADMIN);
    for (const c of [b1, b2]) expect(await c.next(isHello)).toMatchObject({ authenticated: true });
    const c1 = await from('127.0.0.4', ADMIN);
    expect(await c1.waitClose()).toEqual({ code: 1013, reason: 'too many connections: the server is at its limit of 4, try again later' });

    const metrics = (await request(s.url).get('/metrics').set('Authorization', `Bearer ${ADMIN}`).expect(200)).text;
    expect(metrics).toContain('iexpr_ws_connections_refused_total{reason="max_connections_per_ip"} 1');
    expect(metrics).toContain('iexpr_ws_connections_refused_total{reason="max_connections"} 1');
    expect(metrics).toMatch(/^iexpr_ws_connections 4$/m);

    // A closed socket frees its slot (the server sees the close asynchronously: retry until it has).
    a1.close();
    await a1.waitClose();
    let back: TestClient | null = null;
    for (let i = 0; i < 50 && !back; i++) {
      const c = await from('127.0.0.1', ADMIN);
      const first = await Promise.race([c.next(isHello), c.waitClose().then(() => null)]);
      if (first) back = c;
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(back).not.toBeNull();
    expect(await back!.request({ type: 'camera.list', id: 'in' })).toMatchObject({ type: 'ack' });
  });

  it('defaults leave room for normal use from one address (loopback deployment)', async () => {
    const s = await server({});
    expect(s.config.MAX_CONNECTIONS_PER_IP).toBeGreaterThanOrEqual(64);
    expect(s.config.MAX_CONNECTIONS).toBeGreaterThanOrEqual(s.config.MAX_CONNECTIONS_PER_IP);
    const tabs = await Promise.all(Array.from({ length: 20 }, () => connect(s)));
    for (const c of tabs) expect(await c.next(isHello)).toMatchObject({ authenticated: true });
  });
});
