import { Inject, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { OnGatewayConnection, OnGatewayDisconnect, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import type { Subscription } from 'rxjs';
import type { RawData, WebSocket } from 'ws';
import { AuthService } from '../auth/auth.service';
import { isOriginAllowed, parseAllowedOrigins } from '../auth/origin';
import { CONFIG, Config } from '../config';
import { CLOSE_CODES, PROTOCOL_VERSION } from '../contracts/wire';
import { BinaryFrames } from './binary-frames';
import { CommandRouter } from './command.router';
import { Connection, ConnectionLimits } from './connection';
import { ConnectionRegistry } from './connection.registry';
import { DeliveryMetrics } from './delivery.metrics';
import { CAMERA_API, CameraApi } from './delivery.tokens';

/** A refused socket that ignores our close frame is cut off after this, not after ws's 30 s close timeout. */
const REFUSED_CLOSE_GRACE_MS = 1000;

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * `/ws`: plain JSON `{type, id, …}` text messages and binary browser frames. Lifecycle per socket: connection caps
 * (1013) -> Origin check -> token from the handshake (Authorization header or `bearer.<token>` subprotocol) or an
 * `auth` message before WS_AUTH_TIMEOUT_MS -> messages routed by CommandRouter / BinaryFrames, until the socket closes
 * or its token is revoked (AuthService.changes$ -> 4401 `token revoked`).
 */
@WebSocketGateway({ path: '/ws' })
export class ExpressionGateway implements OnGatewayConnection, OnGatewayDisconnect, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ExpressionGateway');
  private readonly bySocket = new WeakMap<WebSocket, Connection>();
  private readonly limits: ConnectionLimits;
  private readonly allowedOrigins: string[];
  private tokenChanges: Subscription | null = null;

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

  onModuleInit(): void {
    this.tokenChanges = this.auth.changes$().subscribe(() => this.revalidate());
  }

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    const remoteAddress = request.socket.remoteAddress;
    if (this.refusedOverCap(socket, remoteAddress)) return;
    const connection = new Connection(socket, this.limits, this.metrics, remoteAddress);
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
    this.tokenChanges?.unsubscribe();
    for (const c of [...this.connections]) {
      c.close(CLOSE_CODES.goingAway, 'server shutting down');
      this.release(c);
    }
  }

  /**
   * Over MAX_CONNECTIONS / MAX_CONNECTIONS_PER_IP: closed 1013 before anything else (no hello), not registered.
   * Unauthenticated sockets count too, until they authenticate or time out: they hold the same resources.
   */
  private refusedOverCap(socket: WebSocket, remoteAddress: string | undefined): boolean {
    let reason: string;
    let metric: 'max_connections' | 'max_connections_per_ip';
    if (this.connections.size >= this.config.MAX_CONNECTIONS) {
      reason = `too many connections: the server is at its limit of ${this.config.MAX_CONNECTIONS}, try again later`;
      metric = 'max_connections';
    } else if (this.connections.countFrom(remoteAddress) >= this.config.MAX_CONNECTIONS_PER_IP) {
      reason = `too many connections from this address (limit ${this.config.MAX_CONNECTIONS_PER_IP}), try again later`;
      metric = 'max_connections_per_ip';
    } else {
      return false;
    }
    this.metrics.connectionsRefused.inc({ reason: metric });
    socket.close(CLOSE_CODES.tryAgainLater, reason);
    setTimeout(() => socket.terminate(), REFUSED_CLOSE_GRACE_MS).unref();
    return true;
  }

  /**
   * Stored tokens changed (created or revoked, in this process or by the token CLI): every open socket whose
   * principal no longer holds is closed 4401, its principal dropped first so nothing it sent still runs.
   */
  private revalidate(): void {
    try {
      for (const c of [...this.connections]) {
        if (!c.principal || this.auth.stillValid(c.principal)) continue;
        const reason = c.principal.tokenId !== undefined ? 'token revoked' : 'authentication required: a token now protects this server';
        this.logger.log(`closing WebSocket of ${c.principal.name} (${reason})`);
        c.revoke(CLOSE_CODES.unauthorized, reason);
        this.metrics.connectionsRevoked.inc();
      }
    } catch (err) {
      // The next change (or data_version tick) tries again; a failed check must not end the subscription.
      this.logger.error(`re-checking tokens of open WebSockets failed: ${(err as Error).message}`);
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
    // A socket we are closing (revoked token, refused, shutdown) runs nothing more, even what was already in flight.
    if (!connection.isOpen) return;
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
