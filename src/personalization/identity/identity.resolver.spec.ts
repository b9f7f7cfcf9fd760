import { describe, expect, it } from 'vitest';
import type { CameraView } from '../../contracts/cameras';
import type { CameraDirectory } from '../../contracts/ports/camera-directory';
import { RxEventBus } from '../../events/rx-event-bus';
import type { HeadRunner } from '../../inference/head.resolver';
import type { UserRepository } from '../../storage/ports/user.repository';
import { IdentityResolver } from './identity.resolver';

/** The precedence, with fakes: track assigned by command > recognised face > camera's bound user > nobody. */
function setup() {
  const bus = new RxEventBus();
  const views = new Map<string, CameraView>([
    ['bound', { id: 'bound', name: 'bound', url: 'file:///x', kind: 'file', fps: 10, loop: false, userId: 'carol', status: 'streaming' }],
    ['free', { id: 'free', name: 'free', url: 'file:///x', kind: 'file', fps: 10, loop: false, userId: null, status: 'streaming' }],
  ]);
  const cameras = {
    get: (id: string) => views.get(id),
    list: () => [...views.values()],
    setUser: (id: string, userId: string | null) => Object.assign(views.get(id)!, { userId }),
  } as unknown as CameraDirectory;
  const users = { get: (id: string) => (['ann', 'bob', 'carol'].includes(id) ? { id } : undefined) } as unknown as UserRepository;
  const heads = new Map<string, HeadRunner>([['ann', { run: async () => new Float32Array(7) }]]);
  const registry = { headFor: (u: string) => heads.get(u) ?? null };
  const r = new IdentityResolver(cameras, users, registry as never, bus);
  r.onApplicationBootstrap();
  for (const cameraId of ['bound', 'free']) bus.emit({ type: 'face.enter', cameraId, trackId: 1, ts: 0, userId: null });
  return { r, heads };
}
const ann = { userId: 'ann', distance: 0.123456, margin: 0.5 };

describe('IdentityResolver precedence', () => {
  it('nobody: no assignment, no recognised face, unbound camera', () => {
    const { r } = setup();
    expect(r.resolve('free', 1)).toEqual({ userId: null, head: null, identity: null });
    expect(r.resolve('free', 1, { userId: null, distance: 0.4, margin: 0.1 })).toEqual({ userId: null, head: null, identity: null });
  });

  it("camera's bound user when the face is not recognised", () => {
    const { r } = setup();
    expect(r.resolve('bound', 1, null)).toMatchObject({ userId: 'carol', head: null, identity: { source: 'camera' } });
    expect(r.resolve('bound', 1, { userId: null, distance: 0.5, margin: 0 }).identity).toEqual({ source: 'camera' });
  });

  it('a recognised face beats the camera binding, with its distance and margin, and gets its personal head', () => {
    const { r, heads } = setup();
    const got = r.resolve('bound', 1, ann);
    expect(got.userId).toBe('ann');
    expect(got.head).toBe(heads.get('ann'));
    expect(got.identity).toEqual({ source: 'face', distance: 0.123, margin: 0.5 });
    // a single enrolled user has no runner-up: margin omitted (not Infinity, which JSON cannot carry)
    expect(r.resolve('free', 1, { ...ann, margin: Infinity }).identity).toEqual({ source: 'face', distance: 0.123 });
  });

  it('a track assigned by command beats a recognised face; clearing the assignment gives the face back', () => {
    const { r } = setup();
    r.assignTrack('bound', 1, 'bob');
    expect(r.resolve('bound', 1, ann)).toMatchObject({ userId: 'bob', identity: { source: 'track' } });
    expect(r.userOf('bound', 1)).toBe('bob');
    r.assignTrack('bound', 1, null);
    expect(r.resolve('bound', 1, ann)).toMatchObject({ userId: 'ann', identity: { source: 'face' } });
    expect(r.userOf('bound', 1)).toBe('carol');
  });
});
