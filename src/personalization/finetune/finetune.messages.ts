import { z } from 'zod';
import type { FinetuneMetrics } from '../../contracts/personalization';
import type { FinetuneErrorMessage } from './finetune.errors';
import { FinetuneSessionSchema } from './finetune.sessions';
import type { FinetuneOptions, FinetuneProgress, FinetuneSample } from './finetune.trainer';

/** Messages between FinetuneRunner (main thread) and finetune.worker.ts. Validated on arrival in the worker. */
export const FinetuneJobSchema = z.object({
  paths: z.object({
    trunk: z.string().min(1),
    head: z.string().min(1),
    trainStep: z.string().min(1),
    headForward: z.string().min(1),
    replay: z.string().min(1),
    replayMeta: z.string().min(1),
  }),
  samples: z.array(z.object({ label: z.number().int().min(0).max(6), face: z.instanceof(Uint8Array) })).min(1),
  /** Partial<FinetuneOptions>; unknown keys are rejected */
  options: z
    .object({
      epochs: z.number().int().positive().max(200),
      userPerBatch: z.number().int().positive().max(1024),
      replayPerBatch: z.number().int().nonnegative().max(1024),
      replayCap: z.number().int().nonnegative(),
      replayWeight: z.number().nonnegative(),
      targetUserRows: z.number().int().positive(),
      minVariants: z.number().int().positive(),
      maxVariants: z.number().int().positive(),
      lr: z.number().positive(),
      weightDecay: z.number().nonnegative(),
      labelSmoothing: z.number().min(0).max(1),
      dropout: z.number().min(0).max(0.95),
      holdoutMinPerLabel: z.number().int().positive(),
      holdoutFraction: z.number().min(0).max(0.9),
      patience: z.number().int().positive(),
      seed: z.number().int(),
      cvFolds: z.number().int().nonnegative().max(50),
      cvEpochs: z.number().int().nonnegative().max(200),
    })
    .partial()
    .strict()
    .optional(),
  /** the worker's ONNX Runtime settings: its sessions come from an OrtSessionFactory built from them */
  session: FinetuneSessionSchema,
});
export type FinetuneJob = Omit<z.infer<typeof FinetuneJobSchema>, 'samples' | 'options'> & {
  samples: FinetuneSample[];
  options?: Partial<FinetuneOptions>;
};

export type ToWorker = { type: 'cancel' };

export type FromWorker =
  | ({ type: 'progress' } & FinetuneProgress)
  | { type: 'done'; weights: Float32Array; metrics: FinetuneMetrics; threadId: number }
  | FinetuneErrorMessage;
