import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { Observable, Subject, Subscription } from 'rxjs';
import { CONFIG, Config } from '../../config';
import { ReplicatedChanges } from '../../contracts/ports/replicated-changes';
import { EventBus } from '../../events/event-bus';
import { faceEmbeddingSha } from '../../inference/embedding/face-embeddings';
import type { FaceRecognition, FaceRecognizer } from '../../inference/face.recognizer';
import { FaceGallery } from '../../storage/ports/face-gallery.repository';
import { DEFAULT_FACE_MATCH, FaceMatcher } from './face-matcher';

/**
 * The live recogniser (FACE_RECOGNIZER): the enrolled gallery — every FaceGallery row made by the current embedding
 * model (its sha256) — in memory, behind a FaceMatcher with the calibrated rule (DEFAULT_FACE_MATCH: per-user threshold
 * capped at 0.24, relative margin 0.25 over the runner-up, per-user distances averaged over the track's frames;
 * docs/IDENTITY.md), rebuilt on every change (the per-user thresholds depend on the whole gallery). Loaded at bootstrap; a user's rows
 * are read again on 'gallery.changed' {userId} (published by the enrolment side after each commit) and dropped on
 * 'user.deleted'. Every change bumps `version` and emits it on `changes`, so the pipeline decides its open tracks again
 * from their embeddings at once.
 * match() is on the pipeline's main-thread path: ~users × faces 128-d distances per decided track, no I/O.
 */
@Injectable()
export class GalleryFaceRecognizer implements FaceRecognizer, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('FaceRecognizer');
  private readonly byUser = new Map<string, Float32Array[]>();
  private matcher = new FaceMatcher([], DEFAULT_FACE_MATCH);
  private readonly subscription = new Subscription();
  private sha: string | null = null;
  private readonly changed = new Subject<number>();
  readonly changes: Observable<number> = this.changed.asObservable();
  version = 0;

  constructor(
    @Inject(FaceGallery) private readonly gallery: FaceGallery,
    @Inject(CONFIG) private readonly config: Pick<Config, 'modelsDir'>,
    @Inject(EventBus) private readonly bus: EventBus,
    /** Clustered: faces enrolled on other nodes, as their rows arrive (the gallery.changed event may come first). */
    @Optional() @Inject(ReplicatedChanges) private readonly replicated: ReplicatedChanges | null = null,
  ) {}

  onApplicationBootstrap(): void {
    this.subscription.add(this.bus.on('gallery.changed').subscribe(({ payload }) => this.reload(payload.userId)));
    this.subscription.add(this.bus.on('user.deleted').subscribe(({ payload }) => this.drop(payload.userId)));
    const off = this.replicated?.on((c) => {
      if (c.table !== 'faces') return;
      const face = c.exists ? this.gallery.get(c.key[0]) : undefined;
      if (face) this.reload(face.userId);
      else this.reloadAll(); // a deleted row no longer says whose it was
    });
    if (off) this.subscription.add(off);
    for (const f of this.gallery.listByModel(this.modelSha())) {
      const list = this.byUser.get(f.userId);
      if (list) list.push(f.embedding);
      else this.byUser.set(f.userId, [f.embedding]);
    }
    this.rebuild();
    this.logger.log(`face gallery: ${this.matcher.size} user(s), ${[...this.byUser.values()].reduce((n, l) => n + l.length, 0)} face(s)`);
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
    this.changed.complete();
  }

  get size(): number {
    return this.matcher.size;
  }

  match(probes: readonly Float32Array[]): FaceRecognition {
    const m = this.matcher.match(probes);
    return { userId: m.userId, distance: m.nearest?.distance ?? null, margin: m.margin };
  }

  private modelSha(): string {
    this.sha ??= faceEmbeddingSha(this.config.modelsDir);
    return this.sha;
  }

  private reload(userId: string): void {
    try {
      const sha = this.modelSha();
      const faces = this.gallery.listByUser(userId).filter((f) => f.modelSha === sha);
      if (faces.length > 0) this.byUser.set(userId, faces.map((f) => f.embedding));
      else this.byUser.delete(userId);
      this.rebuild();
    } catch (err) {
      this.logger.error(`gallery reload for user ${userId} failed: ${err instanceof Error ? err.message : err}`);
    }
  }

  private reloadAll(): void {
    this.byUser.clear();
    for (const f of this.gallery.listByModel(this.modelSha())) {
      const list = this.byUser.get(f.userId);
      if (list) list.push(f.embedding);
      else this.byUser.set(f.userId, [f.embedding]);
    }
    this.rebuild();
  }

  private drop(userId: string): void {
    if (this.byUser.delete(userId)) this.rebuild();
  }

  private rebuild(): void {
    this.matcher = new FaceMatcher(
      [...this.byUser].map(([userId, embeddings]) => ({ userId, embeddings })),
      DEFAULT_FACE_MATCH,
    );
    this.version++;
    this.changed.next(this.version);
  }
}
