import { Inject, Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { CLIENT_MESSAGE_TYPES, ClientMessage, ClientMessageType, COMMAND_SCOPES } from '../contracts/commands';
import { CodedError, isCodedError } from '../contracts/errors';
import { scopeAllows } from '../contracts/scopes';
import type { CommandContext, WsCommandHandler } from './command-handler';
import { WsCommand } from './command-handler';
import type { Connection } from './connection';
import { CommandForwarder } from './command-forwarder';
import { DeliveryMetrics } from './delivery.metrics';
import { scrubSecrets } from './error-mapping';
import { parseClientMessage } from './message-parser';
import { LocalWriteAcknowledgement, WriteAcknowledgement } from '../storage/ports/write-acknowledgement';

/**
 * Text message -> parse -> rate limit -> auth/scope -> the one handler for its type -> ack or typed error.
 * Nothing a client sends closes its connection here (the auth handler may, on a wrong token).
 */
@Injectable()
export class CommandRouter implements OnModuleInit {
  private readonly logger = new Logger('CommandRouter');
  private readonly handlers = new Map<ClientMessageType, WsCommandHandler>();

  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(DeliveryMetrics) private readonly metrics: DeliveryMetrics,
    /** The ack waits for the command's writes to be stored (clustered: in JetStream; else 'unavailable'). */
    @Optional() @Inject(WriteAcknowledgement) private readonly writes: WriteAcknowledgement = new LocalWriteAcknowledgement(),
    /** Cluster: camera-bound commands go to the node that runs the camera (docs/CLUSTER.md, "Routed commands"). */
    @Optional() @Inject(CommandForwarder) private readonly forwarder: CommandForwarder | null = null,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders({ metadataKey: WsCommand.KEY })) {
      const type = this.discovery.getMetadataByDecorator(WsCommand, wrapper);
      if (!type || !wrapper.instance) continue;
      if (!CLIENT_MESSAGE_TYPES.includes(type)) throw new Error(`@WsCommand('${type}'): not a message type of contracts/commands.ts`);
      if (this.handlers.has(type)) throw new Error(`two handlers for the WebSocket command "${type}"`);
      this.handlers.set(type, wrapper.instance as WsCommandHandler);
    }
    // Commands other nodes forward here run like local ones; their handlers use only the asking connection's id.
    this.forwarder?.serve(async (message, originId) => (await this.execute(message, { connection: { id: originId } as Connection })) ?? {});
    const missing = CLIENT_MESSAGE_TYPES.filter((t) => !this.handlers.has(t));
    if (missing.length) this.logger.log(`commands answered "unavailable" (no handler yet): ${missing.join(', ')}`);
  }

  handledTypes(): ClientMessageType[] {
    return [...this.handlers.keys()];
  }

  async handleText(connection: Connection, text: string): Promise<void> {
    const parsed = parseClientMessage(text);
    if (!parsed.ok) {
      this.metrics.messages.inc({ type: 'invalid' });
      if (!connection.messageBucket.take()) return connection.error(parsed.id, 'rate_limited', 'too many messages');
      return connection.error(parsed.id, parsed.code, parsed.message);
    }
    const message = parsed.message;
    const id = message.id ?? null;
    this.metrics.messages.inc({ type: message.type });
    if (!connection.messageBucket.take()) {
      return connection.error(id, 'rate_limited', `too many messages (limit ${connection.limits.messagesPerSec}/s)`);
    }
    if (message.type !== 'auth') {
      if (!connection.principal) {
        return connection.error(id, 'unauthorized', 'not authenticated: send {"type":"auth","token":"…"} first');
      }
      const needed = COMMAND_SCOPES[message.type];
      if (!scopeAllows(connection.principal.scope, needed)) {
        return connection.error(id, 'forbidden', `${message.type} needs the ${needed} scope`);
      }
    }
    await this.dispatch(message, { connection });
  }

  /** Runs the command's handler here (its writes stored before it resolves). Throws the handler's typed error. */
  private async execute(message: ClientMessage, ctx: CommandContext): Promise<Record<string, unknown> | void> {
    const handler = this.handlers.get(message.type);
    if (!handler) throw new CodedError('unavailable', `${message.type} is not available on this server yet`);
    return this.writes.run(async () => handler.handle(message as never, ctx));
  }

  private async dispatch(message: ClientMessage, ctx: CommandContext): Promise<void> {
    const id = message.id ?? null;
    try {
      const owner = this.forwarder?.targetOf(message) ?? null;
      const payload = owner ? await this.forwarder!.forward(owner, message, ctx.connection.id) : await this.execute(message, ctx);
      if (id !== null) ctx.connection.reply({ ...(payload ?? {}), type: 'ack', id });
    } catch (err) {
      if (isCodedError(err)) return ctx.connection.error(id, err.code, scrubSecrets(err.message));
      this.logger.error(`${message.type} failed: ${scrubSecrets(err instanceof Error ? (err.stack ?? err.message) : String(err))}`);
      ctx.connection.error(id, 'internal', `${message.type} failed on the server`);
    }
  }
}
