import { DiscoveryService } from '@nestjs/core';
import type { ClientMessageType, CommandOf } from '../contracts/commands';
import type { Connection } from './connection';

export interface CommandContext {
  connection: Connection;
}

/** Extra fields of the ack (`{type:'ack', id, ...payload}`); void = a bare ack. */
export type AckPayload = Record<string, unknown> | void;

/**
 * One class per WebSocket command. Mark it with @WsCommand('<type>') and list it as a provider of any module:
 * the CommandRouter finds it through Nest's DiscoveryService. Throw CodedError (or any `{code, message}` error)
 * to answer with a typed error; the scope check has already happened (COMMAND_SCOPES).
 */
export interface WsCommandHandler<T extends ClientMessageType = ClientMessageType> {
  handle(message: CommandOf<T>, ctx: CommandContext): AckPayload | Promise<AckPayload>;
}

export const WsCommand = DiscoveryService.createDecorator<ClientMessageType>();
