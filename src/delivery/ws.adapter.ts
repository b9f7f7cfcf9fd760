import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { CONFIG, Config } from '../config';
import { WS_SUBPROTOCOL } from './protocol';

/**
 * Nest's ws adapter, with our protocol in place of Nest's `{event, data}` one: ExpressionGateway reads raw messages
 * itself, so the adapter binds no message handlers. It also sets ws's hard payload cap from the config (a message
 * above it is cut off by ws with close 1009 before it is buffered) and picks a non-secret subprotocol when the
 * client offered `bearer.<token>`.
 */
export class GatewayWsAdapter extends WsAdapter {
  private readonly maxPayload: number;

  constructor(app: INestApplicationContext) {
    super(app);
    this.maxPayload = app.get<Config>(CONFIG).WS_HARD_MAX_BYTES;
  }

  override create(port: number, options: Record<string, unknown> & { path?: string } = {}): ReturnType<WsAdapter['create']> {
    return super.create(port, {
      ...options,
      maxPayload: this.maxPayload,
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
