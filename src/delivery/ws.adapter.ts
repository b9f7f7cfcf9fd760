import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { IncomingMessage } from 'node:http';
import { CONFIG, Config } from '../config';
import { WS_SUBPROTOCOL } from '../contracts/wire';
import { HostPolicy, hostPolicy, isHostAllowed } from './host-policy';

/**
 * Nest's ws adapter, with our protocol in place of Nest's `{event, data}` one: ExpressionGateway reads raw messages
 * itself, so the adapter binds no message handlers. It also sets ws's hard payload cap from the config (a message
 * above it is cut off by ws with close 1009 before it is buffered) and picks a non-secret subprotocol when the
 * client offered `bearer.<token>`. An upgrade whose `Host` the host policy refuses (DNS rebinding) is answered 421
 * before the handshake completes, so the gateway's same-origin check only ever compares against an allowed Host.
 */
export class GatewayWsAdapter extends WsAdapter {
  private readonly maxPayload: number;
  private readonly hosts: HostPolicy;

  constructor(app: INestApplicationContext) {
    super(app);
    const config = app.get<Config>(CONFIG);
    this.maxPayload = config.WS_HARD_MAX_BYTES;
    this.hosts = hostPolicy(config.HOST, config.ALLOWED_HOSTS);
  }

  override create(port: number, options: Record<string, unknown> & { path?: string } = {}): ReturnType<WsAdapter['create']> {
    return super.create(port, {
      ...options,
      maxPayload: this.maxPayload,
      verifyClient: ({ req }: { req: IncomingMessage }, done: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void) => {
        if (isHostAllowed(req.headers.host, this.hosts)) return done(true);
        const body = JSON.stringify({ statusCode: 421, error: 'forbidden', message: 'this Host is not served here (see ALLOWED_HOSTS)' });
        done(false, 421, body, { 'Content-Type': 'application/json' });
      },
      handleProtocols: (protocols: Set<string>) => {
        if (protocols.has(WS_SUBPROTOCOL)) return WS_SUBPROTOCOL;
        // Browsers fail the handshake unless one offered protocol is echoed; only a lone bearer.* is left to echo.
        const first = protocols.values().next();
        return first.done ? false : first.value;
      },
    } as never);
  }

  override bindMessageHandlers(): void {
    // Messages are routed by ExpressionGateway (CommandRouter / BinaryFrames).
  }
}
