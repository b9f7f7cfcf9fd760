import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { Subscription } from 'rxjs';
import { CodedError } from '../../contracts/errors';
import { PersonalizationEvent } from '../../contracts/events';
import type { FaceObservation } from '../../contracts/faces';
import { LABEL_NAMES, LabelName } from '../../contracts/labels';
import { CalibrationPlanView, CalibrationStyle } from '../../contracts/personalization';
import { EventBus } from '../../events/event-bus';
import { FaceObservationDemand } from '../../events/face-observation-demand';
import { FacesService } from '../faces/faces.service';
import { IdentityResolver } from '../identity/identity.resolver';
import { checkQuality, QualityOptions } from '../samples/sample-quality';
import { SampleStore } from '../samples/sample.store';
import { chooseFace } from './choose-face';

export interface CalibrationSettings {
  quality: QualityOptions;
  defaultSecondsPerLabel: number;
  defaultFramesPerLabel: number;
  /** At most one rejection event per reason per this many ms (a camera at 30 fps would flood the client). */
  rejectIntervalMs: number;
  /** No processed frame from the camera for this long counts as no face. */
  staleFrameMs: number;
  /**
   * The pipeline can embed faces (IDENTITY=face): every face it observes for a calibrating camera carries an
   * `enrolment`, so one without it is a frame the pipeline planned before this session asked (in flight when it
   * started) and is skipped rather than stored as a sample without a face. False (IDENTITY=off): samples are stored
   * with `enrolled: false, notEnrolled: 'unavailable'`.
   */
  enrolFaces?: boolean;
}
export const CALIBRATION_SETTINGS = Symbol('CALIBRATION_SETTINGS');

export interface CalibrationRequest {
  userId: string;
  cameraId: string;
  labels?: LabelName[];
  styles?: CalibrationStyle[];
  secondsPerLabel?: number;
  framesPerLabel?: number;
  /** The connection (Connection.id) that asked: it gets the session's events whatever it subscribed to. */
  originId?: string;
}

export type CalibrationPlan = CalibrationPlanView;

type RejectReason = 'blurred' | 'too_small' | 'duplicate' | 'no_face' | 'several_faces';

/**
 * One calibration per user at a time: walks the labels once per style (a round each), prompts with a countdown each
 * second, and keeps the crops of the user's face on that camera that pass the quality checks (docs/CALIBRATION.md).
 * Crops come from the pipeline's `face.observed` events (the exact classifier input), decisions from its per-frame
 * `expression` events (which faces are in view, including none), both read on the EventBus. Its own events
 * (calibration.prompt, .sample, .captured) are published there for the requesting connection and the camera's
 * subscribers.
 */
@Injectable()
export class CalibrationService implements OnModuleDestroy {
  private readonly logger = new Logger('Calibration');
  private readonly sessions = new Map<string, CalibrationSession>();

  constructor(
    @Inject(IdentityResolver) private readonly identity: IdentityResolver,
    @Inject(EventBus) private readonly bus: EventBus,
    @Inject(SampleStore) private readonly store: SampleStore,
    @Inject(CALIBRATION_SETTINGS) private readonly settings: CalibrationSettings,
    @Inject(FacesService) private readonly faces: FacesService,
    @Inject(FaceObservationDemand) private readonly demand: FaceObservationDemand,
  ) {}

  start(req: CalibrationRequest): CalibrationPlan {
    this.identity.requireUser(req.userId);
    this.identity.requireCamera(req.cameraId);
    if (this.sessions.has(req.userId)) throw new CodedError('busy', `user "${req.userId}" is already calibrating; calibration.cancel first`);
    const plan: CalibrationPlan = {
      userId: req.userId,
      cameraId: req.cameraId,
      labels: req.labels?.length ? [...new Set(req.labels)] : [...LABEL_NAMES],
      styles: req.styles?.length ? [...new Set(req.styles)] : ['natural'],
      secondsPerLabel: req.secondsPerLabel ?? this.settings.defaultSecondsPerLabel,
      framesPerLabel: req.framesPerLabel ?? this.settings.defaultFramesPerLabel,
    };
    const session = new CalibrationSession(plan, {
      identity: this.identity,
      bus: this.bus,
      store: this.store,
      faces: this.faces,
      demand: this.demand,
      settings: this.settings,
      emit: (msg) => this.bus.emit(msg, { originId: req.originId, cameraIds: [plan.cameraId] }),
      logger: this.logger,
    });
    this.sessions.set(plan.userId, session);
    void session.run().finally(() => this.sessions.delete(plan.userId));
    return plan;
  }

  /** true if a session was running. Samples already acknowledged stay stored. */
  async cancel(userId: string): Promise<boolean> {
    const s = this.sessions.get(userId);
    if (!s) return false;
    await s.cancel();
    return true;
  }

  isRunning(userId: string): boolean {
    return this.sessions.has(userId);
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.cancel()));
  }
}

interface SessionDeps {
  identity: IdentityResolver;
  bus: EventBus;
  store: SampleStore;
  faces: FacesService;
  demand: FaceObservationDemand;
  settings: CalibrationSettings;
  emit: (msg: PersonalizationEvent) => void;
  logger: Logger;
}

class CalibrationSession {
  private readonly counts: Partial<Record<LabelName, number>> = {};
  private readonly crops = new Map<number, FaceObservation[]>();
  private readonly lastReject = new Map<RejectReason, number>();
  private readonly pending = new Set<Promise<void>>();
  /** The label being asked for in the current round; `accepted`/`taken` count this round's crops of it. */
  private current: { label: LabelName; previous: Uint8Array | null; accepted: number; taken: number } | null = null;
  private lastFrameAt = Date.now();
  private cancelled = false;
  private failed: Error | null = null;
  private wake: (() => void) | null = null;
  private done: Promise<void> | null = null;

  constructor(
    private readonly plan: CalibrationPlan,
    private readonly deps: SessionDeps,
  ) {}

  run(): Promise<void> {
    this.done ??= this.walk();
    return this.done;
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    this.wake?.();
    await this.done;
  }

  private async walk(): Promise<void> {
    const { cameraId, userId, labels, styles, secondsPerLabel } = this.plan;
    const subs = new Subscription();
    // ask the pipeline to enrol this camera's faces (aligned crop + embedding, in the workers) for as long as the session
    // runs — not only while the current label still needs samples: frames planned after one label filled up are still
    // in flight when the next label starts, and each of them must carry its face (a capture is always enrolled)
    subs.add(this.deps.demand.want(cameraId, () => !this.stopped()));
    subs.add(
      this.deps.bus.on('face.observed').subscribe(({ payload: f }) => {
        if (f.cameraId !== cameraId) return;
        const list = this.crops.get(f.frameId);
        if (list) list.push(f);
        else this.crops.set(f.frameId, [f]);
      }),
    );
    subs.add(
      this.deps.bus.on('expression').subscribe(({ payload: e }) => {
        if (e.cameraId !== cameraId) return;
        this.lastFrameAt = Date.now();
        const crops = this.crops.get(e.frameId) ?? [];
        for (const id of this.crops.keys()) if (id <= e.frameId) this.crops.delete(id);
        this.onFrame(e.faces.map((f) => f.trackId), crops);
      }),
    );
    try {
      // round-major: every label in one way, then every label in the next, so each round is a pass of its own
      for (let round = 0; round < styles.length && !this.stopped(); round++) {
        for (let index = 0; index < labels.length && !this.stopped(); index++) {
          const label = labels[index];
          this.current = { label, previous: null, accepted: 0, taken: 0 };
          this.counts[label] ??= 0;
          this.lastFrameAt = Date.now();
          await this.window(label, index, round, secondsPerLabel * 1000);
          this.current = null;
        }
      }
      this.current = null;
      await Promise.allSettled([...this.pending]);
    } finally {
      subs.unsubscribe();
      this.crops.clear();
    }
    if (this.failed) this.deps.logger.warn(`calibration of ${userId} stopped: ${this.failed.message}`);
    this.deps.emit({ type: 'calibration.captured', userId, counts: { ...this.counts } });
  }

  /** One label's window in one round: prompt now and every second, end at the deadline, on framesPerLabel, or on cancel. */
  private window(label: LabelName, index: number, round: number, ms: number): Promise<void> {
    const end = Date.now() + ms;
    const { userId, labels, styles } = this.plan;
    const prompt = () =>
      this.deps.emit({
        type: 'calibration.prompt',
        userId,
        label,
        index,
        of: labels.length,
        style: styles[round],
        round,
        rounds: styles.length,
        secondsLeft: Math.max(0, Math.ceil((end - Date.now()) / 1000 - 1e-6)),
      });
    prompt();
    return new Promise<void>((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      const finish = () => {
        timers.forEach(clearTimeout);
        clearInterval(ticker);
        clearInterval(watchdog);
        this.wake = null;
        resolve();
      };
      this.wake = finish;
      for (let t = 1000; t < ms; t += 1000) timers.push(setTimeout(prompt, t));
      timers.push(setTimeout(finish, ms));
      const ticker = setInterval(() => {
        if (this.stopped() || (this.current && this.current.accepted >= this.plan.framesPerLabel)) finish();
      }, 50);
      const watchdog = setInterval(() => {
        if (Date.now() - this.lastFrameAt > this.deps.settings.staleFrameMs) this.reject('no_face');
      }, Math.max(100, this.deps.settings.staleFrameMs / 2));
    });
  }

  private onFrame(inView: number[], crops: FaceObservation[]): void {
    const cur = this.current;
    if (!cur || this.stopped() || cur.taken >= this.plan.framesPerLabel) return;
    const choice = chooseFace(inView, this.plan.userId, this.deps.identity.assignedTracks(this.plan.cameraId));
    if ('reason' in choice) return this.reject(choice.reason);
    const crop = crops.find((c) => c.trackId === choice.trackId);
    if (!crop) return; // the crop stage did not report this frame (nobody watched yet): wait for the next
    // planned before this session asked for enrolment (settings.enrolFaces): wait for a frame that carries the face
    if (this.deps.settings.enrolFaces && !crop.enrolment) return;
    const reason = checkQuality(crop, cur.previous, this.deps.settings.quality);
    if (reason) return this.reject(reason);
    cur.previous = crop.crop48;
    cur.taken++;
    const label = cur.label;
    const { userId } = this.plan;
    const enrolment = crop.enrolment;
    // as an upload: the sample, then its face (crop, then the row that commits it) pointing at it; acknowledged after both
    const p = this.deps.store
      .add(userId, label, crop.crop48, 'calibration')
      .then(async (record) => {
        if (enrolment && 'embedding' in enrolment) await this.deps.faces.store(userId, enrolment, 'sample', record.id);
        cur.accepted++;
        this.counts[label] = (this.counts[label] ?? 0) + 1;
        const enrolled = enrolment !== undefined && 'embedding' in enrolment;
        this.deps.emit({
          type: 'calibration.sample',
          userId,
          label,
          status: 'accepted',
          count: this.counts[label],
          enrolled,
          ...(enrolled ? {} : { notEnrolled: enrolment && 'rejected' in enrolment ? enrolment.rejected : 'unavailable' }),
        });
      })
      .catch((e: Error) => {
        cur.taken--;
        this.failed = e; // the user was deleted, or the disk failed: stop rather than prompt on
      })
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  private reject(reason: RejectReason): void {
    const cur = this.current;
    if (!cur) return;
    const now = Date.now();
    if (now - (this.lastReject.get(reason) ?? 0) < this.deps.settings.rejectIntervalMs) return;
    this.lastReject.set(reason, now);
    this.deps.emit({ type: 'calibration.sample', userId: this.plan.userId, label: cur.label, status: 'rejected', reason, count: this.counts[cur.label] ?? 0 });
  }

  private stopped(): boolean {
    return this.cancelled || this.failed !== null;
  }
}
