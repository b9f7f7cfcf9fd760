import { resolve } from 'node:path';
import { z } from 'zod';

/** Environment, parsed once at startup with a schema: a bad value stops the server with a message naming it. */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** PERSONAL_GATE's default, chosen and checked by the rules in docs/PERSONALIZATION.md (bench:personalization's too). */
export const DEFAULT_PERSONAL_GATE = 0.98;

export const ConfigSchema = z.object({
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  MODELS_DIR: z.string().min(1).default('./models'),
  FFMPEG_PATH: z.string().min(1).optional(),
  EXECUTION_PROVIDER: z.enum(['cpu', 'cuda', 'tensorrt', 'webgpu']).default('cpu'),
  /** Frames per batch through the detector and classifier, and how long a partial batch waits. */
  BATCH_SIZE: int(1, 256).default(8),
  BATCH_TIMEOUT_MS: int(0, 10_000).default(20),
  DEFAULT_FPS: z.coerce.number().positive().max(60).default(10),
  /** Exponential smoothing of scores per track: 0 = off, 0.6 = 60% of the previous smoothed value. */
  SMOOTHING: z.coerce.number().min(0).max(0.99).default(0.5),
  // ---- pipeline / inference (docs/PIPELINE.md) ----
  /** Batches in flight: 2 overlaps the next batch's detection with the previous batch's classification. */
  PIPELINE_DEPTH: int(1, 4).default(1),
  /**
   * Worker threads that run the detector and trunk off the event loop; a batch is split across them. `auto` = one
   * per core up to 4 on cpu, 1 on a GPU provider; 0 = run inference on the main thread (blocks the event loop).
   */
  INFERENCE_WORKERS: z.union([z.literal('auto'), int(0, 64)]).default('auto'),
  /** ONNX Runtime intra-op threads per session; 0 = one per core. */
  ORT_THREADS: int(0, 64).default(1),
  /** Let idle ORT worker threads spin (lower latency on a dedicated machine, wasted cores on a shared one). */
  ORT_SPIN: bool.default(false),
  // ---- personalization (docs/PERSONALIZATION.md) ----
  /** ONNX Runtime intra-op threads of the fine-tuning worker (the ≤ 10 s target was measured with 2). */
  FINETUNE_THREADS: int(0, 64).default(2),
  /** Fewest samples of each of the 7 labels a fine-tune accepts (1 = one photo per expression, augmentation does the rest). */
  FINETUNE_MIN_SAMPLES_PER_LABEL: int(1, 1000).default(1),
  /**
   * A personalized face keeps the general head's scores when the general head is at least this sure of its label
   * (docs/PERSONALIZATION.md, "A per-face gate"); 1 turns the gate off (the personal head alone, as before).
   */
  PERSONAL_GATE: z.coerce.number().min(0.5).max(1).default(DEFAULT_PERSONAL_GATE),
  /** YuNet variant in MODELS_DIR/face-detection: `s` (smaller, faster) or `n`. */
  DETECTOR_MODEL: z.enum(['s', 'n']).default('s'),
  /** Square letterbox side every frame is scaled into before detection (multiple of 32). */
  DETECTOR_INPUT_SIZE: int(64, 1280).refine((v) => v % 32 === 0, 'must be a multiple of 32').default(320),
  DETECTOR_SCORE_THRESHOLD: z.coerce.number().min(0).max(1).default(0.6),
  DETECTOR_NMS_IOU: z.coerce.number().min(0).max(1).default(0.3),
  /** Faces smaller than this (source pixels, shorter side) are ignored: too small for a 48x48 crop to mean much. */
  MIN_FACE_PIXELS: int(0, 4096).default(24),
  /** Processed frames a track survives without a matching face before face.leave. */
  TRACK_GRACE_FRAMES: int(0, 1000).default(5),
  /** Minimum IoU to continue a track (below it the centroid rule still matches a face that moved fast). */
  TRACK_IOU: z.coerce.number().min(0).max(1).default(0.3),
  // ---- live face recognition (docs/IDENTITY.md "Live recognition") ----
  /** face: recognise enrolled users by their face on the live path (each track's user follows its face); off: only
   * track assignment and camera binding decide, and events carry no `identity` (the behaviour before issue 14). */
  IDENTITY: z.enum(['face', 'off']).default('face'),
  /** A recognised (or unknown) track's face is embedded again after this. On a quiet pipeline (measured load < 0.7)
   * exactly this, free; on a busy one the interval doubles, up to 8x, while the decision stays the same, within the
   * frame budget (embedding is ~6 crops through a ResNet per face: docs/IDENTITY.md "Live recognition"). */
  IDENTITY_RECHECK_MS: int(100, 600_000).default(1000),
  /** At most this many faces are embedded per batch; the others wait for a later frame (counted as deferred). */
  IDENTITY_MAX_PER_BATCH: int(1, 256).default(2),
  /** Seconds without a frame before a live source's ffmpeg is killed and restarted. */
  WATCHDOG_SECONDS: z.coerce.number().positive().max(3600).default(10),
  /** Consecutive failed (re)starts before a camera goes `failed`. */
  MAX_RESTARTS: int(1, 1_000_000).default(10),
  // ---- ingest (docs/INGEST.md) ----
  /** Restart delay after the n-th consecutive failure: min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2^(n-1)). */
  BACKOFF_BASE_MS: int(0, 600_000).default(1000),
  BACKOFF_MAX_MS: int(0, 3_600_000).default(30_000),
  /** Streaming this long resets the failure count (and the backoff). */
  HEALTHY_SECONDS: z.coerce.number().positive().max(86_400).default(30),
  /** Allowance for a (re)started camera's first frame (RTSP connect + stream probe); at least WATCHDOG_SECONDS. */
  START_TIMEOUT_SECONDS: z.coerce.number().positive().max(3600).default(20),
  /** ffmpeg socket/read timeout for network cameras (RTSP -timeout/-stimeout, HTTP -rw_timeout). */
  IO_TIMEOUT_SECONDS: z.coerce.number().positive().max(3600).default(10),
  /**
   * Camera URLs whose host is, or resolves to, a link-local (169.254/16, fe80::/10) or cloud-metadata address are
   * refused: a camera URL makes the server fetch on the caller's behalf (SSRF), and cloud credentials live there.
   * true allows them (a camera that really sits on a link-local network). Private ranges and loopback are always allowed.
   */
  CAMERA_ALLOW_LINK_LOCAL: bool.default(false),
  // ---- webhooks (docs/INTEGRATIONS.md, "Webhooks") ----
  /** The same destination policy for webhook URLs (checked at creation and before every attempt): true allows link-local/metadata. */
  WEBHOOK_ALLOW_LINK_LOCAL: bool.default(false),
  /** One delivery attempt (connect, send, response) longer than this fails and is retried. */
  WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(5000),
  /** Attempts per delivery (the first included); retries wait min(WEBHOOK_BACKOFF_MAX_MS, BASE * 2^(n-1)). */
  WEBHOOK_MAX_ATTEMPTS: int(1, 20).default(5),
  WEBHOOK_BACKOFF_BASE_MS: int(0, 600_000).default(1000),
  WEBHOOK_BACKOFF_MAX_MS: int(0, 3_600_000).default(60_000),
  /** Deliveries waiting, in flight or between retries; a firing beyond it is dropped and counted (the pipeline never waits). */
  WEBHOOK_QUEUE_MAX: int(1, 100_000).default(1000),
  /** Requests in flight at once, all rules together (a slow receiver holds one of these, never the pipeline). */
  WEBHOOK_CONCURRENCY: int(1, 256).default(4),
  /** Deliveries kept in each rule's log (GET /api/webhooks/:id/deliveries); older ones are deleted. */
  WEBHOOK_LOG_KEEP: int(1, 10_000).default(100),
  /** Longest side of ingested frames (ffmpeg scales down, never up). */
  FRAME_MAX_SIDE: int(64, 4096).default(640),
  /** Browser-pushed frames: encoded bytes and decoded pixels (checked before decoding) per frame. */
  BROWSER_FRAME_MAX_BYTES: int(1024, 64 * 1024 * 1024).default(2 * 1024 * 1024),
  BROWSER_FRAME_MAX_PIXELS: int(1024, 100_000_000).default(4096 * 4096),
  ADMIN_TOKEN: z.string().min(8, 'ADMIN_TOKEN must be at least 8 characters').optional(),
  READ_TOKEN: z.string().min(8, 'READ_TOKEN must be at least 8 characters').optional(),
  /**
   * Comma-separated browser origins allowed to open the WebSocket and to send REST changes (POST/PUT/PATCH/DELETE);
   * empty = same origin as the server only.
   */
  ALLOWED_ORIGINS: z.string().default(''),
  /**
   * Comma-separated extra `Host` names the server answers (DNS-rebinding defence), besides loopback names and HOST;
   * bound to 0.0.0.0/:: any IP literal is accepted too. `*` = any Host (only behind a proxy that checks it).
   */
  ALLOWED_HOSTS: z.string().default(''),
  /** WebSocket limits per connection. A message over WS_HARD_MAX_BYTES is cut off by ws itself (close 1009). */
  WS_MAX_TEXT_BYTES: int(256, 16 * 1024 * 1024).default(64 * 1024),
  WS_MAX_BINARY_BYTES: int(1024, 64 * 1024 * 1024).default(2 * 1024 * 1024),
  WS_HARD_MAX_BYTES: int(1024, 256 * 1024 * 1024).default(8 * 1024 * 1024),
  /** Token bucket per connection: sustained messages/s and burst. */
  WS_MESSAGES_PER_SEC: z.coerce.number().positive().max(1_000_000).default(100),
  WS_MESSAGE_BURST: int(1, 10_000_000).default(200),
  /** A socket that has not authenticated (handshake or `auth` message) within this time is closed with 4401. */
  WS_AUTH_TIMEOUT_MS: int(100, 600_000).default(5000),
  /**
   * Open WebSockets (authenticated or not), in all and per client address; the next one is closed with 1013. Sized
   * from the worst case a client can cost: up to ~4 x WS_MAX_BUFFERED_BYTES of unread replies, so 512 bound that at
   * ~2 GiB, while a real deployment (a few dashboards and integrations) uses tens. Per address 128: every client of
   * a loopback deployment (tabs, SDK scripts) shares 127.0.0.1, and a quarter of the total still needs four hosts to
   * fill the server. Behind a reverse proxy every client has the proxy's address: raise it to MAX_CONNECTIONS there.
   */
  MAX_CONNECTIONS: int(1, 1_000_000).default(512),
  MAX_CONNECTIONS_PER_IP: int(1, 1_000_000).default(128),
  /** Events to a client whose unsent buffer is above this are dropped (and counted), never queued. */
  WS_MAX_BUFFERED_BYTES: int(1024, 1024 * 1024 * 1024).default(1024 * 1024),
  /** JPEG previews: per camera rate, width, and bandwidth per connection. */
  PREVIEW_FPS: z.coerce.number().positive().max(10).default(2),
  PREVIEW_WIDTH: int(32, 4096).default(320),
  PREVIEW_BYTES_PER_SEC: int(1024, 1024 * 1024 * 1024).default(512 * 1024),
  // ---- MQTT / Home Assistant (docs/INTEGRATIONS.md) ----
  /**
   * Broker to publish expression state and face events to (mqtt://, mqtts://, ws://, wss://); unset = MQTT off.
   * Credentials may sit in the URL's userinfo or in MQTT_USERNAME/MQTT_PASSWORD; neither is ever logged.
   */
  MQTT_URL: z
    .string()
    .url()
    .refine((u) => /^(mqtts?|wss?):\/\//i.test(u), 'must be an mqtt://, mqtts://, ws:// or wss:// URL')
    .optional(),
  MQTT_USERNAME: z.string().min(1).optional(),
  MQTT_PASSWORD: z.string().min(1).optional(),
  /** Client id at the broker (unique per broker: a second client with the same id disconnects the first). */
  MQTT_CLIENT_ID: z.string().min(1).max(128).optional(),
  /** First level of every topic (`<prefix>/<camera>/expression`); two servers on one broker need different prefixes. */
  MQTT_TOPIC_PREFIX: z
    .string()
    .regex(/^[^#+\s]+$/, 'no MQTT wildcards (# +) or whitespace')
    .refine((p) => !p.startsWith('/') && !p.endsWith('/'), 'no leading or trailing /')
    .default('iexpressionnet'),
  /** State is published per camera/user at most once per this period (scores averaged over it), not per frame. */
  MQTT_RATE_MS: int(100, 3_600_000).default(1000),
  /** Reconnect delay doubles from MIN after each failed attempt, up to MAX (broker down: the server keeps running). */
  MQTT_RECONNECT_MIN_MS: int(100, 600_000).default(1000),
  MQTT_RECONNECT_MAX_MS: int(100, 3_600_000).default(30_000),
  /** Messages kept while the broker is unreachable (latest per topic wins); beyond it the oldest is dropped and counted. */
  MQTT_BUFFER_MAX: int(1, 1_000_000).default(1000),
  /** Home Assistant MQTT discovery: a sensor per camera and per user appears in HA without YAML. Opt-in. */
  MQTT_HA_DISCOVERY: bool.default(false),
  /** Home Assistant's discovery prefix (its MQTT integration setting; `homeassistant` unless changed there). */
  MQTT_HA_PREFIX: z.string().regex(/^[^#+\s/]+$/, 'one topic level, no wildcards').default('homeassistant'),
  // ---- history (docs/HISTORY.md) ----
  /** Store expression history (per track, per HISTORY_RESOLUTION_MS); `off` records nothing and the queries answer 503. */
  HISTORY: z.enum(['on', 'off', 'true', 'false', '1', '0']).transform((v) => v === 'on' || v === 'true' || v === '1').default(true),
  /** Length of one stored interval per track: the finest resolution a query gets, and the write rate (1 row/track/interval). */
  HISTORY_RESOLUTION_MS: int(100, 3_600_000).default(1000),
  /** Rows whose interval started more than this many days ago are deleted (in small batches, hourly). */
  HISTORY_DAYS: int(1, 36_500).default(30),
  /** How often buffered rows are written (one transaction each). */
  HISTORY_FLUSH_MS: int(100, 60_000).default(1000),
  /**
   * Rows buffered for the next write, at most: beyond it new rows are dropped and counted (history_rows_dropped_total)
   * rather than queued without bound when the disk stalls. 10,000 = over 20 minutes of 8 cameras with one face each.
   */
  HISTORY_MAX_PENDING: int(10, 10_000_000).default(10_000),
  /** Buckets one aggregated query may return; a longer range needs a coarser resolution (400 with a message). */
  HISTORY_MAX_BUCKETS: int(10, 1_000_000).default(10_000),
  // ---- cluster (docs/CLUSTER.md) ----
  /**
   * NATS server(s) to join a cluster through, comma-separated (`nats://host:4222,nats://other:4222`); unset = one node
   * on its own (no NATS, in-process bus). The node fails to start (exit 2) when none of them answers.
   */
  NATS_URL: z
    .string()
    .refine(
      (v) => v.split(',').every((u) => /^(nats|tls):\/\/[^\s,/]+\/?$|^[^\s,/:]+(:\d+)?$/i.test(u.trim())),
      'comma-separated nats://host:port (or tls://, or host:port) URLs',
    )
    .optional(),
  /** This node's name in the cluster (subjects, KV keys): unset = a generated id kept in DATA_DIR/node-id, stable across restarts. */
  NODE_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, '1-64 letters, digits, _ or -').optional(),
  /** Copies JetStream keeps of the cluster's buckets and streams: 1 on one NATS server, 3 on a 3-server cluster. */
  NATS_REPLICAS: int(1, 5).default(1),
  /** This node's HTTP address as other nodes and dashboards should reach it (GET /api/cluster); unset = the address it listens on. */
  NODE_URL: z.string().url().optional(),
  /** Membership heartbeat period; a node silent for 3 periods drops out of the cluster view (the bucket's TTL). */
  CLUSTER_HEARTBEAT_MS: int(200, 60_000).default(2000),
  /** Events kept for NATS while it is unreachable (oldest dropped first, counted); local delivery never waits for it. */
  NATS_BUFFER_MAX: int(0, 1_000_000).default(10_000),
  /**
   * Camera leases (docs/CLUSTER.md, "Camera sharding"): a camera runs on the node holding its lease in the `iex-leases`
   * bucket, which forgets a lease not renewed for this long. A dead node's cameras restart elsewhere about this long
   * after it died; a node that cannot renew stops its cameras before the lease can expire, so no camera runs twice.
   */
  CAMERA_LEASE_TTL_MS: int(1000, 120_000).default(10_000),
  /** How often a node compares the cameras with the leases and claims or releases (also at once after a change). */
  CAMERA_RECONCILE_MS: int(100, 60_000).default(2000),
  /** How long the least-loaded node has to claim an unowned camera before the next node in the ranking may. */
  CAMERA_CLAIM_GRACE_MS: int(100, 120_000).default(4000),
  /** Rebalancing is gradual: a node more than one camera above the emptiest gives up at most one camera per period. */
  CAMERA_REBALANCE_MS: int(1000, 3_600_000).default(30_000),
  /** How long a command forwarded to the node that runs its camera may take to be answered (NATS request/reply). */
  CLUSTER_COMMAND_TIMEOUT_MS: int(100, 120_000).default(10_000),
  /** Least severe log level printed: error < warn < log < debug < verbose. */
  LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
  SERVE_DASHBOARD: bool.default(true),
});

export type Config = z.infer<typeof ConfigSchema> & { dataDir: string; modelsDir: string };

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')),
  );
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  return { ...c, dataDir: resolve(c.DATA_DIR), modelsDir: resolve(c.MODELS_DIR) };
}

/** Nest injection token for the Config object. */
export const CONFIG = Symbol('CONFIG');
