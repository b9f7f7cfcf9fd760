import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CameraView } from '../../src/contracts/cameras';
import type { PipelineEvent } from '../../src/contracts/events';
import { CAMERA_DIRECTORY } from '../../src/contracts/ports/camera-directory';
import { EventBus } from '../../src/events/event-bus';
import { RxEventBus } from '../../src/events/rx-event-bus';
import type { HeadRunner } from '../../src/inference/head.resolver';
import { IdentityResolver } from '../../src/personalization/identity/identity.resolver';
import { ModelRegistry } from '../../src/personalization/registry/model.registry';
import { SqliteDatabase } from '../../src/storage/database';
import { UserRepository } from '../../src/storage/ports/user.repository';
import { SqliteUserRepository } from '../../src/storage/sqlite/user.repository';

/** A camera directory that, like ingest (CameraService + camera-events.ts), announces a new camera on the bus. */
class FakeCameras {
  readonly views = new Map<string, CameraView>();
  readonly persisted: [string, string | null][] = [];
  constructor(private readonly bus: EventBus) {}
  add(id: string, userId: string | null = null) {
    this.views.set(id, { id, name: id, url: 'file:///x', kind: 'file', fps: 10, loop: false, userId, status: 'streaming' });
    this.bus.publish('camera.status', { type: 'camera.status', cameraId: id, state: 'connecting', ts: 0 });
  }
  get(id: string) {
    const v = this.views.get(id);
    if (!v) throw Object.assign(new Error(`no camera ${id}`), { code: 'not_found' });
    return v;
  }
  list() {
    return [...this.views.values()];
  }
  setUser(id: string, userId: string | null) {
    this.get(id).userId = userId;
    this.persisted.push([id, userId]);
    return this.get(id);
  }
}

describe('IdentityResolver (through the DI container)', () => {
  let dir: string;
  let db: SqliteDatabase;
  let identity: IdentityResolver;
  let cameras: FakeCameras;
  let bus: RxEventBus;
  /** What the pipeline publishes, on the same bus the resolver reads. */
  const publish = (e: PipelineEvent) => bus.emit(e);
  const anaHead: HeadRunner = { run: async () => new Float32Array(7) };
  const heads = new Map<string, HeadRunner>();

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'iex-identity-'));
    db = new SqliteDatabase(dir);
    bus = new RxEventBus();
    cameras = new FakeCameras(bus);
    cameras.add('cam1', 'bob'); // bound before boot (persisted)
    cameras.add('cam2');
    heads.clear();
    const mod = await Test.createTestingModule({
      providers: [
        { provide: SqliteDatabase, useValue: db },
        { provide: UserRepository, useClass: SqliteUserRepository },
        IdentityResolver,
        { provide: CAMERA_DIRECTORY, useValue: cameras },
        { provide: ModelRegistry, useValue: { headFor: (u: string) => heads.get(u) ?? null } },
        { provide: EventBus, useValue: bus },
      ],
    }).compile();
    const app = mod.createNestApplication({ logger: false });
    await app.init();
    identity = app.get(IdentityResolver);
    const users = app.get(UserRepository);
    users.insert({ id: 'ana', name: 'Ana', createdAt: 1 });
    users.insert({ id: 'bob', name: 'Bob', createdAt: 2 });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('camera binding: loaded at boot, persisted on bind, personalized only with an active head', () => {
    expect(identity.resolve('cam1', 1)).toEqual({ userId: 'bob', head: null, identity: { source: 'camera' } });
    expect(identity.resolve('cam2', 1)).toEqual({ userId: null, head: null, identity: null });
    identity.bindCamera('cam2', 'ana');
    expect(cameras.persisted).toContainEqual(['cam2', 'ana']);
    expect(identity.resolve('cam2', 7)).toEqual({ userId: 'ana', head: null, identity: { source: 'camera' } });
    heads.set('ana', anaHead);
    expect(identity.resolve('cam2', 7).head).toBe(anaHead);
    identity.bindCamera('cam2', null);
    expect(identity.resolve('cam2', 7)).toEqual({ userId: null, head: null, identity: null });
  });

  it('a camera added later with a user is picked up from its status event', () => {
    cameras.add('cam3', 'ana');
    expect(identity.resolve('cam3', 1).userId).toBe('ana');
  });

  it('track assignment overrides the camera, follows the track and is cleared when it leaves', () => {
    expect(() => identity.assignTrack('cam1', 4, 'ana')).toThrow(/no face with track 4/);
    publish({ type: 'face.enter', cameraId: 'cam1', trackId: 4, ts: 0, userId: 'bob' });
    identity.assignTrack('cam1', 4, 'ana');
    heads.set('ana', anaHead);
    expect(identity.resolve('cam1', 4)).toEqual({ userId: 'ana', head: anaHead, identity: { source: 'track' } });
    expect(identity.resolve('cam1', 5).userId).toBe('bob'); // other faces keep the camera's user
    expect(identity.assignedTracks('cam1')).toEqual(new Map([[4, 'ana']]));
    publish({ type: 'face.leave', cameraId: 'cam1', trackId: 4, ts: 1, userId: 'ana' });
    expect(identity.resolve('cam1', 4).userId).toBe('bob');
    expect(identity.assignedTracks('cam1').size).toBe(0);
  });

  it('unknown camera or user -> not_found; deleting a user unbinds its cameras and tracks', () => {
    expect(() => identity.bindCamera('nope', 'ana')).toThrow(expect.objectContaining({ code: 'not_found' }));
    expect(() => identity.bindCamera('cam2', 'ghost')).toThrow(expect.objectContaining({ code: 'not_found' }));
    publish({ type: 'face.enter', cameraId: 'cam2', trackId: 1, ts: 0, userId: null });
    identity.assignTrack('cam2', 1, 'bob');
    identity.forgetUser('bob');
    expect(identity.resolve('cam1', 1).userId).toBeNull();
    expect(identity.resolve('cam2', 1).userId).toBeNull();
    expect(cameras.persisted).toContainEqual(['cam1', null]);
  });
});
