import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Config } from '../config';
import { RxEventBus } from '../events/rx-event-bus';
import type { HistoryRepository } from '../storage/ports/history.repository';
import { HistoryService } from './history.service';

/** A repository that, like a closed SQLite handle, throws once closed; it counts the start-up sweep's calls. */
function repo() {
  const state = { open: true, orphanCalls: 0, deleteCalls: 0 };
  const guard = () => {
    if (!state.open) throw new TypeError('The database connection is not open');
  };
  const fake = {
    orphanUsers: () => (guard(), state.orphanCalls++, []),
    deleteBefore: () => (guard(), state.deleteCalls++, 0),
  } as unknown as HistoryRepository;
  return { state, fake };
}

const service = (r: HistoryRepository) =>
  new HistoryService({ HISTORY_DAYS: 30 } as Config, new RxEventBus(), r, null as never, null as never, null as never);

describe('HistoryService start-up sweep', () => {
  it('sweeps orphans and old rows just after start', async () => {
    const { state, fake } = repo();
    const s = service(fake);
    s.onApplicationBootstrap();
    await tick();
    await tick();
    expect(state.orphanCalls).toBe(1);
    expect(state.deleteCalls).toBe(1);
    s.onModuleDestroy();
  });

  it('a server closed right after it started never sweeps its closed database', async () => {
    const { state, fake } = repo();
    const s = service(fake);
    s.onApplicationBootstrap();
    s.onModuleDestroy();
    state.open = false; // the storage module closes the database after the services
    await tick();
    await tick();
    expect(state.orphanCalls).toBe(0);
    expect(state.deleteCalls).toBe(0);
  });
});
