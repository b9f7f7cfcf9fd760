import { Inject, Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { CodedError } from '../../contracts/errors';
import { CAMERA_DIRECTORY, type CameraDirectory } from '../../contracts/ports/camera-directory';
import { EventBus } from '../../events/event-bus';
import type { FaceIdentity } from '../../contracts/faces';
import type { FaceRecognition } from '../../inference/face.recognizer';
import { faceIdentity, type HeadResolver, type ResolvedHead } from '../../inference/head.resolver';
import { UserRepository } from '../../storage/ports/user.repository';
import { ModelRegistry } from '../registry/model.registry';

const key = (cameraId: string, trackId: number) => `${cameraId}:${trackId}`;

/**
 * Which user a face belongs to, and so which head scores it: the one place of that decision. Precedence: a track
 * assigned to a user by command (follows the track, forgotten on face.leave), else the face recognised by the live
 * recogniser (the pipeline passes its decision for the track, IDENTITY=face), else the camera's bound user, else nobody. The user's active personal head comes
 * from the registry; a user without one gets the general head (`userId` set, `personalized: false`).
 * resolve() is on the inference hot path: two map look-ups, no I/O. Camera bindings are persisted by CameraService
 * (cameras.user_id); this class keeps a copy, refreshed on bind and on every camera status change (a camera added
 * with `userId`, a restart after boot). It reads the cameras through CAMERA_DIRECTORY (bound to ingest's CameraService
 * in AppModule) and follows tracks and camera status on the EventBus.
 */
@Injectable()
export class IdentityResolver implements HeadResolver, OnApplicationBootstrap, OnModuleDestroy {
  private readonly cameraUsers = new Map<string, string>();
  private readonly trackUsers = new Map<string, string>();
  /** Tracks in view per camera (face.enter .. face.leave): track.assign accepts only these. */
  private readonly liveTracks = new Map<string, Set<number>>();
  private readonly subscription = new Subscription();

  constructor(
    @Inject(CAMERA_DIRECTORY) private readonly cameras: CameraDirectory,
    @Inject(UserRepository) private readonly users: UserRepository,
    @Inject(ModelRegistry) private readonly registry: Pick<ModelRegistry, 'headFor'>,
    @Inject(EventBus) private readonly bus: EventBus,
  ) {}

  onApplicationBootstrap(): void {
    for (const c of this.cameras.list()) this.remember(c.id, c.userId);
    this.subscription.add(this.bus.on('camera.status').subscribe(({ payload: s }) => this.refresh(s.cameraId)));
    this.subscription.add(
      this.bus.on('face.enter', 'face.leave', 'expression').subscribe(({ payload: e }) => {
        if (e.type === 'face.enter') this.tracksOf(e.cameraId).add(e.trackId);
        else if (e.type === 'face.leave') {
          this.liveTracks.get(e.cameraId)?.delete(e.trackId);
          this.trackUsers.delete(key(e.cameraId, e.trackId));
        } else if (e.type === 'expression') {
          // a track seen in an expression event is live even if its face.enter came before we subscribed
          for (const f of e.faces) this.tracksOf(e.cameraId).add(f.trackId);
        }
      }),
    );
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }

  resolve(cameraId: string, trackId: number, face?: FaceRecognition | null): ResolvedHead {
    const { userId, identity } = this.decide(cameraId, trackId, face);
    return { userId, head: userId === null ? null : this.registry.headFor(userId), identity };
  }

  /** The user a face on this camera belongs to, by command or camera binding (resolve's precedence without a face). */
  userOf(cameraId: string, trackId: number): string | null {
    return this.decide(cameraId, trackId, null).userId;
  }

  /** The precedence, once: track assigned by command > recognised face > camera's bound user > nobody. */
  private decide(cameraId: string, trackId: number, face: FaceRecognition | null | undefined): { userId: string | null; identity: FaceIdentity | null } {
    const assigned = this.trackUsers.get(key(cameraId, trackId));
    if (assigned !== undefined) return { userId: assigned, identity: { source: 'track' } };
    if (face?.userId) return { userId: face.userId, identity: faceIdentity(face) };
    const bound = this.cameraUsers.get(cameraId);
    if (bound !== undefined) return { userId: bound, identity: { source: 'camera' } };
    return { userId: null, identity: null };
  }

  cameraUser(cameraId: string): string | null {
    return this.cameraUsers.get(cameraId) ?? null;
  }

  /** Track ids on the camera assigned to someone (by command, not by camera binding). */
  assignedTracks(cameraId: string): Map<number, string> {
    const out = new Map<number, string>();
    const prefix = `${cameraId}:`;
    for (const [k, u] of this.trackUsers) if (k.startsWith(prefix)) out.set(Number(k.slice(prefix.length)), u);
    return out;
  }

  /** Cameras bound to the user (for routing that user's events). */
  camerasOf(userId: string): string[] {
    return [...this.cameraUsers].filter(([, u]) => u === userId).map(([c]) => c);
  }

  /** camera.bind: persists through the camera directory (CameraService). Throws not_found for an unknown camera or user. */
  bindCamera(cameraId: string, userId: string | null): { cameraId: string; userId: string | null } {
    this.requireCamera(cameraId);
    if (userId !== null) this.requireUser(userId);
    this.cameras.setUser(cameraId, userId);
    this.remember(cameraId, userId);
    return { cameraId, userId };
  }

  /** track.assign: in memory, follows the track until face.leave. null clears it. */
  assignTrack(cameraId: string, trackId: number, userId: string | null): { cameraId: string; trackId: number; userId: string | null } {
    this.requireCamera(cameraId);
    if (userId !== null) this.requireUser(userId);
    const k = key(cameraId, trackId);
    if (userId === null) {
      this.trackUsers.delete(k);
    } else {
      if (!this.liveTracks.get(cameraId)?.has(trackId)) throw new CodedError('not_found', `no face with track ${trackId} in view on camera "${cameraId}"`);
      this.trackUsers.set(k, userId);
    }
    return { cameraId, trackId, userId };
  }

  /** A deleted user: unbind its cameras (persisted) and drop its track assignments. */
  forgetUser(userId: string): void {
    for (const cameraId of this.camerasOf(userId)) {
      try {
        this.cameras.setUser(cameraId, null);
      } catch {
        // the camera is gone already
      }
      this.cameraUsers.delete(cameraId);
    }
    for (const [k, u] of this.trackUsers) if (u === userId) this.trackUsers.delete(k);
  }

  requireCamera(cameraId: string): void {
    try {
      if (this.cameras.get(cameraId)) return;
    } catch {
      // CameraService.get throws not_found
    }
    throw new CodedError('not_found', `no camera "${cameraId}"`);
  }

  requireUser(userId: string): void {
    if (!this.users.get(userId)) throw new CodedError('not_found', `no user "${userId}"`);
  }

  private refresh(cameraId: string): void {
    let userId: string | null = null;
    let exists = true;
    try {
      userId = this.cameras.get(cameraId)?.userId ?? null;
    } catch {
      exists = false;
    }
    this.remember(cameraId, userId);
    if (!exists) {
      this.liveTracks.delete(cameraId);
      for (const k of this.trackUsers.keys()) if (k.startsWith(`${cameraId}:`)) this.trackUsers.delete(k);
    }
  }

  private remember(cameraId: string, userId: string | null): void {
    if (userId) this.cameraUsers.set(cameraId, userId);
    else this.cameraUsers.delete(cameraId);
  }

  private tracksOf(cameraId: string): Set<number> {
    let s = this.liveTracks.get(cameraId);
    if (!s) this.liveTracks.set(cameraId, (s = new Set()));
    return s;
  }
}
