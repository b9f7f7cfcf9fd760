import { describe, expect, it } from 'vitest';
import { CodedError } from '../../contracts/errors';
import type { ModelVersionView } from '../../contracts/personalization';
import type { ModelRegistry } from '../registry/model.registry';
import { FinetuneError } from './finetune.errors';
import type { FinetuneRunner, FinetuneRunResult } from './finetune.runner';
import { FinetuneService, type FinetuneServiceOptions } from './finetune.service';
import type { FinetuneSample } from './finetune.trainer';

/** n faces of each label (FER order), no pixels needed: the fake runner never reads them. */
const faces = (counts: number[]): FinetuneSample[] => counts.flatMap((n, label) => Array.from({ length: n }, () => ({ label, face: new Uint8Array(0) })));

/** A service over a runner whose runs the test settles, and a registry that knows the users it is given. */
function serviceWith(users: string[], maxConcurrent = 2) {
  const runs: { resolve: (r: FinetuneRunResult) => void; reject: (e: unknown) => void; signal?: AbortSignal }[] = [];
  const runner = {
    run: (_job: unknown, opts: { signal?: AbortSignal }) => new Promise<FinetuneRunResult>((resolve, reject) => runs.push({ resolve, reject, signal: opts.signal })),
  };
  const registry = {
    activeVersion: (id: string) => {
      if (!users.includes(id)) throw new CodedError('not_found', `unknown user ${id}`);
      return null;
    },
    save: async (userId: string) => ({ userId, version: 1, createdAt: 1, active: true, metrics: {} }) as ModelVersionView,
  };
  const service = new FinetuneService(runner as unknown as FinetuneRunner, registry as unknown as ModelRegistry, {
    paths: { trunk: 't', head: 'h', trainStep: 's', headForward: 'f', replay: 'r', replayMeta: 'm' } as FinetuneServiceOptions['paths'],
    session: { EXECUTION_PROVIDER: 'cpu', threads: 1, spin: true },
    minSamplesPerLabel: 2,
    maxConcurrent,
  });
  return { service, runs };
}

const enough = faces([2, 2, 2, 2, 2, 2, 2]);
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('begin() did not refuse');
};

describe('FinetuneService.begin: every check once, synchronously, as a typed error', () => {
  it('refuses an unknown user, a busy user, too few samples and a full service, in that order', () => {
    const { service, runs } = serviceWith(['ana', 'bob', 'cy'], 2);
    expect(refusal(() => service.begin('zed', faces([0, 0, 0, 0, 0, 0, 0])))).toMatchObject({ code: 'not_found' });
    service.begin('ana', enough);
    // busy wins over too few samples for the same user (as the edge answered before)
    const busy = refusal(() => service.begin('ana', faces([2, 2, 2, 0, 2, 2, 2])));
    expect(busy).toBeInstanceOf(FinetuneError);
    expect(busy).toMatchObject({ code: 'busy', message: 'user "ana" is already fine-tuning', reason: null });
    const short = refusal(() => service.begin('bob', faces([2, 1, 2, 0, 2, 2, 2])));
    expect(short).toMatchObject({
      code: 'too_few_samples',
      message: 'not enough samples of every expression (have disgust: 1, happy: 0); add photos or run calibration.start',
    });
    service.begin('bob', enough);
    expect(refusal(() => service.begin('cy', enough))).toMatchObject({ code: 'busy', message: 'another fine-tune is running; try again when it ends' });
    expect(runs).toHaveLength(2);
  });

  it('done: the stored version; a cancelled run is conflict/cancelled; anything untyped becomes internal with its cause', async () => {
    const { service, runs } = serviceWith(['ana', 'bob', 'cy'], 3);
    const ok = service.begin('ana', enough);
    runs[0].resolve({ weights: {} as FinetuneRunResult['weights'], metrics: {} as FinetuneRunResult['metrics'], threadId: 1 });
    await expect(ok.done).resolves.toMatchObject({ userId: 'ana', version: 1, active: true });

    const cancelled = service.begin('bob', enough);
    expect(service.cancel('bob')).toBe(true);
    expect(runs[1].signal?.aborted).toBe(true);
    runs[1].reject(FinetuneError.cancelled());
    await expect(cancelled.done).rejects.toMatchObject({ code: 'conflict', reason: 'cancelled' });

    const broken = service.begin('cy', enough);
    const cause = new Error('disk full');
    runs[2].reject(cause);
    const err = await broken.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CodedError);
    expect(err).toMatchObject({ code: 'internal', message: 'disk full', cause });
    // every slot is free again
    expect(service.cancel('ana') || service.cancel('bob') || service.cancel('cy')).toBe(false);
  });

  it('finetune() rejects with the same typed refusal', async () => {
    const { service } = serviceWith(['ana']);
    await expect(service.finetune('ana', faces([2, 2, 2, 0, 2, 2, 2]))).rejects.toMatchObject({ code: 'too_few_samples', message: /happy: 0/ });
  });
});
