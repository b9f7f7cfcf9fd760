/** The cluster as GET /api/cluster shows it (docs/CLUSTER.md). */
import type { CameraState } from './cameras';

/** What a node measures of itself, over its last heartbeat period. */
export interface NodeLoad {
  /** Frames its pipeline processed per second (all its cameras). */
  framesPerSecond: number;
  /** Share of the machine's CPU time this process used (0..1; 1 = every core busy). */
  cpu: number;
  /** Cores of the machine (os.availableParallelism). */
  cores: number;
}

/** A camera's state as its node last reported it (CameraStatus without the id). */
export interface NodeCameraState {
  state: CameraState;
  reason?: string;
  fps?: number;
  /** When the camera entered this state (ms epoch, its node's clock). */
  ts: number;
}

export interface NodeView {
  id: string;
  /** Its HTTP address (NODE_URL, else where it listens); null until it listens. */
  url: string | null;
  /** The cameras it runs now (ids). */
  cameras: string[];
  /**
   * The last state of each camera it runs or ran last (`stopped` ones dropped), by camera id: how a node that joined
   * after those cameras started learns their state (their `camera.status` events went out before it listened).
   */
  cameraStates?: Record<string, NodeCameraState>;
  load: NodeLoad;
  /** When it last reported, ms epoch (its own clock). */
  lastSeen: number;
}

export interface ClusterView {
  /** The node that answered. */
  self: NodeView;
  /** Every live node, self included, by id. A single node lists just itself. */
  nodes: NodeView[];
}

/**
 * A command forwarded to the node that runs its camera (NATS request/reply on `iex.v1.cmd.<nodeId>`; docs/CLUSTER.md,
 * "Routed commands"). `message` is the client's command as it arrived, already authenticated and scope-checked by the
 * node the client is connected to; `originId` is that client's connection, so the owner's progress events
 * (meta.originId) find their way back to it through the event bus.
 */
export interface RoutedCommand {
  v: 1;
  from: string;
  originId: string;
  message: { type: string; id?: string; [field: string]: unknown };
}

/** The owner's answer: the ack's fields (AckPayloads of the command), or the typed error it raised. */
export type RoutedReply = { ok: true; payload: Record<string, unknown> } | { ok: false; code: string; message: string };
