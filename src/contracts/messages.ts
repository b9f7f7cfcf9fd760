/** Everything the server sends over the WebSocket as JSON: the handshake, command answers, and the pushed events. */
import type { ErrorCode } from './errors';
import type { CameraEvent, PersonalizationEvent, PipelineEvent } from './events';
import type { Scope } from './scopes';

export type HelloMessage = { type: 'hello'; protocol: number; authenticated: boolean; scope: Scope | null };
/** A command's answer: `id` is the command's, the other fields are `AckPayloads[type]` (commands.ts). */
export type AckMessage = { type: 'ack'; id: string; [key: string]: unknown };
/** A failed command (`id` its id) or a connection-level error (`id` null). */
export type ErrorMessage = { type: 'error'; id: string | null; code: ErrorCode; message: string };

export type ServerMessage = HelloMessage | AckMessage | ErrorMessage | PipelineEvent | CameraEvent | PersonalizationEvent;

export type ServerMessageType = ServerMessage['type'];
