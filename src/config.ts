import { resolve } from 'node:path';
import { z } from 'zod';

/** Environment, parsed once at startup with a schema: a bad value stops the server with a message naming it. */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

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
  /** Seconds without a frame before a live source's ffmpeg is killed and restarted. */
  WATCHDOG_SECONDS: z.coerce.number().positive().max(3600).default(10),
  /** Consecutive failed (re)starts before a camera goes `failed`. */
  MAX_RESTARTS: int(1, 1_000_000).default(10),
  ADMIN_TOKEN: z.string().min(8, 'ADMIN_TOKEN must be at least 8 characters').optional(),
  READ_TOKEN: z.string().min(8, 'READ_TOKEN must be at least 8 characters').optional(),
  /** Comma-separated browser origins allowed to open the WebSocket; empty = same origin as the server only. */
  ALLOWED_ORIGINS: z.string().default(''),
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
