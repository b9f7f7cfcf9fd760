import { Inject, Injectable, Logger, OnModuleDestroy, Optional } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { COMMAND_SUBJECTS } from '../cluster/nats-event-bus';
import { NatsLink, Unsubscribe } from '../cluster/nats.link';
import { CONFIG, Config } from '../config';
import type { RoutedCommand, RoutedReply } from '../contracts/cluster';
import { ClientMessage, ClientMessageSchema, ClientMessageType } from '../contracts/commands';
import { CodedError, ERROR_CODES, ErrorCode, isCodedError } from '../contracts/errors';
import { CameraPlacement } from '../contracts/ports/camera-placement';
import { EventBus } from '../events/event-bus';
import { scrubSecrets } from './error-mapping';

/** Subject of the commands forwarded to a node. */
export function commandSubject(nodeId: string): string {
  return `${COMMAND_SUBJECTS}${nodeId}`;
}

/**
 * The commands that act on a running camera, so only the node that runs it can answer: its pipeline's tracks
 * (track.assign), its identity resolver's camera → user cache (camera.bind; the table is shared, the cache is the
 * running node's), its calibration capture (calibration.start reads the node-scoped face.observed), its ffmpeg
 * (camera.retry). Everything else reads or writes shared state and is answered by whichever node the client is on.
 */
const CAMERA_OF: Partial<Record<ClientMessageType, (m: ClientMessage) => string>> = {
  'camera.retry': (m) => (m as Extract<ClientMessage, { type: 'camera.retry' }>).cameraId,
  'calibration.start': (m) => (m as Extract<ClientMessage, { type: 'calibration.start' }>).cameraId,
  'track.assign': (m) => (m as Extract<ClientMessage, { type: 'track.assign' }>).cameraId,
  'camera.bind': (m) => (m as Extract<ClientMessage, { type: 'camera.bind' }>).cameraId,
};

/** calibration.cancel goes to the node where the user's calibration runs (known from its prompts' meta.node). */
export const ROUTED_COMMANDS = [...(Object.keys(CAMERA_OF) as ClientMessageType[]), 'calibration.cancel'] as const;

/** Runs a command here as if its client were connected here (`originId`: its connection on the asking node). */
export type LocalExecutor = (message: ClientMessage, originId: string) => Promise<Record<string, unknown>>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Routes camera-bound commands to the node that runs the camera (docs/CLUSTER.md, "Routed commands"): NATS
 * request/reply on `iex.v1.cmd.<owner>`, carrying the command as the client sent it (already authenticated and
 * scope-checked here) and the client's connection id; the owner runs it through its own CommandRouter and answers
 * with the ack's fields or the typed error, which this node passes on unchanged. The owner's progress events carry
 * meta.originId = that connection, and the event bus brings them back to it. A forwarded command is never forwarded
 * again: if the camera moved meanwhile, the old owner answers as it would (typically `conflict`, naming the new node).
 * On a single node (no NatsLink) nothing is forwarded.
 */
@Injectable()
export class CommandForwarder implements OnModuleDestroy {
  private readonly log = new Logger('CommandForwarder');
  private stop: Unsubscribe | null = null;
  /** user → the node running their calibration, from the calibration events (cluster scope: every node hears them). */
  private readonly calibrating = new Map<string, string>();
  private readonly events = new Subscription();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Optional() @Inject(NatsLink) private readonly link: NatsLink | null = null,
    @Optional() @Inject(CameraPlacement) private readonly placement: CameraPlacement | null = null,
    @Optional() @Inject(EventBus) bus: EventBus | null = null,
  ) {
    if (!this.enabled || !bus) return;
    this.events.add(
      bus.on('calibration.prompt', 'calibration.captured').subscribe((e) => {
        const node = e.meta.node ?? this.placement!.nodeId;
        if (e.name === 'calibration.prompt') this.calibrating.set(e.payload.userId, node);
        else if (this.calibrating.get(e.payload.userId) === node) this.calibrating.delete(e.payload.userId);
      }),
    );
  }

  get enabled(): boolean {
    return this.link !== null && this.placement?.clustered === true;
  }

  /** The other node that must answer this command, or null (answer here). */
  targetOf(message: ClientMessage): string | null {
    if (!this.enabled) return null;
    const cameraOf = CAMERA_OF[message.type];
    const owner =
      message.type === 'calibration.cancel'
        ? (this.calibrating.get(message.userId) ?? null)
        : cameraOf
          ? this.placement!.ownerOf(cameraOf(message))
          : null;
    return owner && owner !== this.placement!.nodeId ? owner : null;
  }

  /** Sends the command to `node` and resolves with its ack's fields; throws its typed error, or `unavailable`. */
  async forward(node: string, message: ClientMessage, originId: string): Promise<Record<string, unknown>> {
    const request: RoutedCommand = { v: 1, from: this.placement!.nodeId, originId, message };
    let raw: Uint8Array;
    try {
      raw = await this.link!.request(commandSubject(node), encoder.encode(JSON.stringify(request)), this.config.CLUSTER_COMMAND_TIMEOUT_MS);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new CodedError('unavailable', `camera runs on node ${node}, which did not answer (${scrubSecrets(why)}); try again`);
    }
    let reply: RoutedReply;
    try {
      reply = JSON.parse(decoder.decode(raw)) as RoutedReply;
    } catch {
      throw new CodedError('internal', `node ${node} answered something that is not a reply`);
    }
    if (reply.ok) return reply.payload ?? {};
    throw new CodedError(isKnownCode(reply.code) ? reply.code : 'internal', reply.message);
  }

  /** Answers the commands other nodes forward here with `execute` (this node's CommandRouter). */
  serve(execute: LocalExecutor): void {
    if (!this.enabled || this.stop) return;
    this.stop = this.link!.subscribe(commandSubject(this.placement!.nodeId), (msg) => {
      if (!msg.reply) return;
      const reply = msg.reply;
      void this.answer(msg.data, execute).then((r) => {
        try {
          if (this.link!.status() === 'connected') this.link!.publish(reply, encoder.encode(JSON.stringify(r)));
        } catch (e) {
          this.log.warn(`could not answer a forwarded command: ${e instanceof Error ? e.message : e}`);
        }
      });
    });
  }

  onModuleDestroy(): void {
    this.events.unsubscribe();
    this.stop?.();
    this.stop = null;
  }

  private async answer(data: Uint8Array, execute: LocalExecutor): Promise<RoutedReply> {
    let request: RoutedCommand;
    try {
      request = JSON.parse(decoder.decode(data)) as RoutedCommand;
    } catch {
      return { ok: false, code: 'bad_message', message: 'forwarded command is not JSON' };
    }
    const parsed = ClientMessageSchema.safeParse(request?.message);
    if (!parsed.success || request.v !== 1 || typeof request.originId !== 'string' || !(ROUTED_COMMANDS as readonly string[]).includes(parsed.data.type)) {
      return { ok: false, code: 'bad_message', message: 'not a forwardable command' };
    }
    try {
      return { ok: true, payload: await execute(parsed.data, request.originId) };
    } catch (err) {
      if (isCodedError(err)) return { ok: false, code: err.code, message: scrubSecrets(err.message) };
      this.log.error(`forwarded ${parsed.data.type} failed: ${scrubSecrets(err instanceof Error ? (err.stack ?? err.message) : String(err))}`);
      return { ok: false, code: 'internal', message: `${parsed.data.type} failed on node ${this.placement!.nodeId}` };
    }
  }
}

function isKnownCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}
