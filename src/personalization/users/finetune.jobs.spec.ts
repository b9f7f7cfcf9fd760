import { describe, expect, it } from 'vitest';
import type { EventMeta } from '../../contracts/events';
import { RxEventBus } from '../../events/rx-event-bus';
import type { ModelVersionView } from '../../contracts/personalization';
import { FinetuneError } from '../finetune/finetune.errors';
import type { FinetuneService } from '../finetune/finetune.service';
import type { FinetuneProgress } from '../finetune/finetune.trainer';
import type { IdentityResolver } from '../identity/identity.resolver';
import type { SampleStore } from '../samples/sample.store';
import { FinetuneJobs } from './finetune.jobs';

/** A FinetuneService whose one training run the test drives: report progress, then resolve or reject. */
function fakeService() {
  let progress: ((p: FinetuneProgress) => void) | undefined;
  let settle: { resolve: (v: ModelVersionView) => void; reject: (e: unknown) => void } | undefined;
  const service = {
    cancel: () => false,
    begin: (_u: string, _s: unknown, opts: { onProgress?: (p: FinetuneProgress) => void }) => {
      progress = opts.onProgress;
      return { done: new Promise<ModelVersionView>((resolve, reject) => (settle = { resolve, reject })) };
    },
  };
  return {
    service: service as unknown as FinetuneService,
    progress: (p: FinetuneProgress) => progress!(p),
    resolve: (v: ModelVersionView) => settle!.resolve(v),
    reject: (e: unknown) => settle!.reject(e),
  };
}

function jobsWith(svc: FinetuneService) {
  const published: { type: string }[] = [];
  const metas: EventMeta[] = [];
  const store = { load: async () => [{ record: { label: 'happy' }, face: new Float32Array(1) }, { record: { label: 'sad' }, face: new Float32Array(1) }] };
  const identity = {
    requireUser: (id: string) => {
      if (id !== 'u1') throw new Error('not found');
    },
    camerasOf: () => ['cam1'],
  };
  const bus = new RxEventBus();
  bus.on('finetune.progress', 'model.updated', 'finetune.failed').subscribe((e) => {
    published.push(e.payload);
    metas.push(e.meta);
  });
  const jobs = new FinetuneJobs(svc, store as unknown as SampleStore, identity as unknown as IdentityResolver, bus);
  return { jobs, published, metas };
}

const version: ModelVersionView = {
  userId: 'u1',
  version: 1,
  createdAt: 1,
  active: true,
  metrics: { generalAccuracy: 0.5, personalAccuracy: 0.9, heldOut: 4 } as ModelVersionView['metrics'],
};

describe('FinetuneJobs: a job id to follow over REST', () => {
  it('queued → running with progress → done with the active version', async () => {
    const fake = fakeService();
    const { jobs, published, metas } = jobsWith(fake.service);
    const started = await jobs.start('u1', { epochs: 3, originId: 'conn1' });
    expect(started).toMatchObject({ userId: 'u1', samples: 2, state: 'queued', activatesWhenDone: true });
    expect(started.jobId).toMatch(/^ft[0-9a-f]{12}$/);
    expect(jobs.job('u1', started.jobId)).toMatchObject({ id: started.jobId, state: 'queued', progress: null, result: null, error: null, finishedAt: null });

    fake.progress({ epoch: 1, of: 3, loss: 1.2, accuracy: 0.4, etaSeconds: 2 } as FinetuneProgress);
    expect(jobs.job('u1', started.jobId)).toMatchObject({ state: 'running', progress: { epoch: 1, of: 3, loss: 1.2, accuracy: 0.4, etaSeconds: 2 } });

    fake.resolve(version);
    await jobs.settled('u1');
    const done = jobs.job('u1', started.jobId)!;
    expect(done).toMatchObject({ state: 'done', result: { version: 1, active: true }, error: null });
    expect(done.finishedAt).toBeGreaterThanOrEqual(done.createdAt);
    expect(published.map((e) => e.type)).toEqual(['finetune.progress', 'model.updated']);
    // on the bus: to the caller (a connection id, not the connection) and the user's cameras
    expect(metas.map((m) => ({ originId: m.originId, cameraIds: m.cameraIds }))).toEqual([
      { originId: 'conn1', cameraIds: ['cam1'] },
      { originId: 'conn1', cameraIds: ['cam1'] },
    ]);
  });

  it('a failed run is reported with the same code as the finetune.failed event', async () => {
    const fake = fakeService();
    const { jobs, published } = jobsWith(fake.service);
    const { jobId } = await jobs.start('u1');
    fake.reject(new FinetuneError('conflict', 'cancelled by user.delete', 'cancelled'));
    await jobs.settled('u1');
    expect(jobs.job('u1', jobId)).toMatchObject({ state: 'failed', result: null, error: { code: 'conflict', message: 'cancelled by user.delete' } });
    expect(published.at(-1)).toMatchObject({ type: 'finetune.failed', code: 'conflict' });
  });

  it("the service's refusal is this call's error: no job kept, no event", async () => {
    const fake = fakeService();
    const refusing = { ...fake.service, begin: () => { throw FinetuneError.busy('user "u1" is already fine-tuning'); } } as unknown as FinetuneService;
    const { jobs, published } = jobsWith(refusing);
    await expect(jobs.start('u1')).rejects.toMatchObject({ code: 'busy', message: 'user "u1" is already fine-tuning' });
    await jobs.settled('u1');
    expect(published).toEqual([]);
  });

  it('a job is only found under its own user; a view is a copy', async () => {
    const fake = fakeService();
    const { jobs } = jobsWith(fake.service);
    const { jobId } = await jobs.start('u1');
    expect(jobs.job('u2', jobId)).toBeNull();
    expect(jobs.job('u1', 'ft000000000000')).toBeNull();
    jobs.job('u1', jobId)!.state = 'done';
    expect(jobs.job('u1', jobId)!.state).toBe('queued');
  });
});
