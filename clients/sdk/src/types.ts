import type { AckPayloads, CameraState, ClientMessage, ClientMessageType, CommandOf, ServerMessage } from '../../../src/contracts';

export type * from '../../../src/contracts';

/** Messages the server pushes unprompted (everything but acks and correlated errors). */
export type ServerEvent = Exclude<ServerMessage, { type: 'ack' }>;
export type ServerEventType = ServerEvent['type'];
export type EventOf<T extends ServerEventType> = Extract<ServerEvent, { type: T }>;

/** The dashboard's name for a camera's state (CameraState in the contracts). */
export type CameraStateName = CameraState;

/** A command's body: the protocol message without `type` and `id` (the client fills those in). */
export type CommandBody<T extends ClientMessageType> = Omit<CommandOf<T>, 'type' | 'id'>;
export type { ClientMessage, ClientMessageType };

/** A command's ack: `{type:'ack', id}` plus that command's fields from the protocol (AckPayloads in src/contracts/commands.ts). */
export type AckOf<T extends ClientMessageType> = { type: 'ack'; id: string } & AckPayloads[T];
