import { z } from 'zod';
import { ConfigSchema } from '../../config';
import { ExpressionTrunk } from '../../inference/expression.classifier';
import { HeadForward } from '../../inference/heads/head-forward';
import { HeadTrainStep } from '../../inference/heads/head-train-step';
import { OrtSessionFactory } from '../../inference/ort.sessions';
import type { GeneralAssetPaths } from './general-assets';

/**
 * The ONNX Runtime settings of a fine-tune, carried by the job message so the worker thread builds its sessions
 * through the same OrtSessionFactory as the rest of the server (EXECUTION_PROVIDER honoured, same error).
 */
export const FinetuneSessionSchema = z.object({
  EXECUTION_PROVIDER: ConfigSchema.shape.EXECUTION_PROVIDER.unwrap(),
  /** intra-op threads of each session (FINETUNE_THREADS; 0 = one per core) */
  threads: z.number().int().min(0).max(64),
  /** let idle intra-op threads spin (TRAINING_SPIN) */
  spin: z.boolean(),
});
export type FinetuneSession = z.infer<typeof FinetuneSessionSchema>;

/**
 * Training sessions keep ORT's default of spinning idle intra-op threads (the serving sessions turn it off, ORT_SPIN):
 * a fine-tune is thousands of short back-to-back runs on its own FINETUNE_THREADS, where parking and waking the
 * threads between runs costs more than the spinning; this is what bench:personalization measured before the
 * sessions moved to the factory (docs/PERSONALIZATION.md, "Sessions").
 */
export const TRAINING_SPIN = true;

/** Most faces per trunk run in a fine-tune (hundreds of augmented variants): bounds the input and activation memory. */
export const TRAINING_TRUNK_CHUNK = 128;

export function finetuneSession(c: { EXECUTION_PROVIDER: FinetuneSession['EXECUTION_PROVIDER']; FINETUNE_THREADS: number }): FinetuneSession {
  return { EXECUTION_PROVIDER: c.EXECUTION_PROVIDER, threads: c.FINETUNE_THREADS, spin: TRAINING_SPIN };
}

/** The factory a fine-tune's sessions come from (quiet: the worker loads the same files every job). */
export function trainingFactory(s: FinetuneSession): OrtSessionFactory {
  return new OrtSessionFactory({ EXECUTION_PROVIDER: s.EXECUTION_PROVIDER, ORT_THREADS: s.threads, ORT_SPIN: s.spin, quiet: true });
}

export interface TrainingSessions {
  trunk: ExpressionTrunk;
  step: HeadTrainStep;
  forward: HeadForward;
  release(): Promise<void>;
}

/**
 * The trunk, the training step and the head forward of one fine-tune. Every create settles before this returns or
 * throws (a create still running when a worker thread exits would call back into a dead environment); on a failure
 * the sessions that did load are released and the first error is thrown (ExecutionProviderError for a provider
 * that cannot start).
 */
export async function openTrainingSessions(
  factory: OrtSessionFactory,
  paths: Pick<GeneralAssetPaths, 'trunk' | 'trainStep' | 'headForward'>,
): Promise<TrainingSessions> {
  const [t, s, f] = await Promise.allSettled([
    factory.create(paths.trunk),
    HeadTrainStep.create(factory, paths.trainStep),
    HeadForward.create(factory, paths.headForward),
  ]);
  if (t.status === 'fulfilled' && s.status === 'fulfilled' && f.status === 'fulfilled') {
    const trunk = new ExpressionTrunk(t.value, { chunk: TRAINING_TRUNK_CHUNK });
    const [step, forward] = [s.value, f.value];
    return { trunk, step, forward, release: async () => void (await Promise.all([trunk.release(), step.release(), forward.release()])) };
  }
  await Promise.allSettled([t, s, f].map((r) => (r.status === 'fulfilled' ? r.value.release() : undefined)));
  throw ([t, s, f].find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
}
