import { Inject, Logger, OnModuleDestroy } from '@nestjs/common';
import { OnGatewayConnection, OnGatewayDisconnect, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { AuthService } from '../auth/auth.service';
import { isOriginAllowed, parseAllowedOrigins } from '../auth/origin';
import { CONFIG, Config } from '../config';
import { BinaryFrames } from './binary-frames';
import { CommandRouter } from './command.router';
import { Connection, ConnectionLimits } from './connection';
import { ConnectionRegistry } from './connection.registry';
import { DeliveryMetrics } from './delivery.metrics';
import { CAMERA_API, CameraApi } from './delivery.tokens';
import { CLOSE_CODES, PROTOCOL_VERSION } from './protocol';

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * `/ws`: plain JSON `{type, id, …}` text messages and binary browser frames. Lifecycle per socket: Origin check ->
 * token from the handshake (Authorization header or `bearer.<token>` subprotocol) or an `auth` message before
 * WS_AUTH_TIMEOUT_MS -> messages routed by CommandRouter / BinaryFrames.
 */
@WebSocketGateway({ path: '/ws' })
export class ExpressionGateway implements OnGatewayConnection, OnGatewayDisconnect, OnModuleDestroy {
  private readonly logger = new Logger('ExpressionGateway');
  private readonly bySocket = new WeakMap<WebSocket, Connection>();
  private readonly limits: ConnectionLimits;
  private readonly allowedOrigins: string[];

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(AuthService) private readonly auth: AuthService,
    @Inject(CommandRouter) private readonly router: CommandRouter,
    @Inject(BinaryFrames) private readonly binary: BinaryFrames,
    @Inject(ConnectionRegistry) private readonly connections: ConnectionRegistry,
    @Inject(DeliveryMetrics) private readonly metrics: DeliveryMetrics,
    @Inject(CAMERA_API) private readonly cameras: CameraApi,
  ) {
    this.limits = {
      maxTextBytes: config.WS_MAX_TEXT_BYTES,
      maxBinaryBytes: config.WS_MAX_BINARY_BYTES,
      maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
      messagesPerSec: config.WS_MESSAGES_PER_SEC,
      messageBurst: config.WS_MESSAGE_BURST,
      previewBytesPerSec: config.PREVIEW_BYTES_PER_SEC,
    };
    this.allowedOrigins = parseAllowedOrigins(config.ALLOWED_ORIGINS);
  }

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    const connection = new Connection(socket, this.limits, this.metrics, request.socket.remoteAddress);
    this.bySocket.set(socket, connection);
    this.connections.add(connection);
    this.metrics.connections.inc();

    if (!isOriginAllowed(request.headers.origin, request.headers.host, this.allowedOrigins)) {
      this.logger.warn(`WebSocket from a foreign origin refused (${connection.remoteAddress})`);
      return connection.close(CLOSE_CODES.forbiddenOrigin, 'origin not allowed');
    }
    const token = AuthService.bearerFrom(request.headers) ?? AuthService.subprotocolTokenFrom(request.headers);
    if (token !== null) {
      connection.principal = this.auth.verify(token);
      if (!connection.principal) return connection.close(CLOSE_CODES.unauthorized, 'invalid token');
    } else {
      connection.principal = this.auth.openPrincipal(connection.remoteAddress);
    }
    if (!connection.principal) {
      connection.authTimer = setTimeout(() => {
        connection.close(CLOSE_CODES.unauthorized, `authentication required: send an auth message within ${this.config.WS_AUTH_TIMEOUT_MS} ms`);
      }, this.config.WS_AUTH_TIMEOUT_MS);
      connection.authTimer.unref();
    }

    socket.on('message', (data: RawData, isBinary: boolean) => this.onMessage(connection, toBuffer(data), isBinary));
    connection.reply({
      type: 'hello',
      protocol: PROTOCOL_VERSION,
      authenticated: connection.principal !== null,
      scope: connection.principal?.scope ?? null,
    });
  }

  handleDisconnect(socket: WebSocket): void {
    const connection = this.bySocket.get(socket);
    if (!connection) return;
    this.bySocket.delete(socket);
    this.release(connection);
  }

  onModuleDestroy(): void {
    for (const c of [...this.connections]) {
      c.close(CLOSE_CODES.goingAway, 'server shutting down');
      this.release(c);
    }
  }

  private release(connection: Connection): void {
    if (!this.connections.has(connection)) return;
    this.connections.delete(connection);
    this.metrics.connections.dec();
    if (connection.authTimer) clearTimeout(connection.authTimer);
    for (const camera of connection.channels.values()) {
      Promise.resolve(camera.close ? camera.close() : this.cameras.remove(camera.id)).catch((err: unknown) =>
        this.logger.warn(`closing browser camera ${camera.id}: ${(err as Error).message}`),
      );
    }
    connection.channels.clear();
  }

  private onMessage(connection: Connection, data: Buffer, isBinary: boolean): void {
    const limit = isBinary ? this.limits.maxBinaryBytes : this.limits.maxTextBytes;
    if (data.length > limit) {
      this.metrics.messages.inc({ type: 'invalid' });
      return connection.error(null, 'too_large', `${isBinary ? 'binary' : 'text'} message of ${data.length} bytes is over the ${limit}-byte limit`);
    }
    if (isBinary) return this.binary.handle(connection, data);
    this.router.handleText(connection, data.toString('utf8')).catch((err: unknown) => {
      this.logger.error(`message handling failed: ${(err as Error).message}`);
    });
  }
}
