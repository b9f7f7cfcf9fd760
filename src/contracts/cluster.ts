/** The cluster as GET /api/cluster shows it (docs/CLUSTER.md). */

/** What a node measures of itself, over its last heartbeat period. */
export interface NodeLoad {
  /** Frames its pipeline processed per second (all its cameras). */
  framesPerSecond: number;
  /** Share of the machine's CPU time this process used (0..1; 1 = every core busy). */
  cpu: number;
  /** Cores of the machine (os.availableParallelism). */
  cores: number;
}

export interface NodeView {
  id: string;
  /** Its HTTP address (NODE_URL, else where it listens); null until it listens. */
  url: string | null;
  /** The cameras it runs now (ids). */
  cameras: string[];
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
