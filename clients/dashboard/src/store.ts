import { useEffect, useReducer } from 'preact/hooks';
import {
  IExpressionClient,
  IExpressionError,
  IExpressionRest,
  LABEL_NAMES,
  type CameraView,
  type ConnectionState,
  type EventOf,
  type ExpressionEvent,
  type FaceIdentity,
  type FinetuneMetrics,
  type LabelName,
  type PreviewFrame,
  type ServerEvent,
  type UserView,
} from '../../sdk/src';

/** How often camera fps figures are refreshed. */
const FPS_POLL_MS = 3000;
const TOKEN_KEY = 'iexpressionnet.token';
/** Per-track score history kept for the timeline chart. */
export const HISTORY_MS = 10 * 60_000;

export interface TrackHistory {
  cameraId: string;
  trackId: number;
  /** Seconds since epoch (uPlot's time unit). */
  t: number[];
  scores: Record<LabelName, number[]>;
  /** Frames where each label was the top one, over the whole session. */
  counts: Record<LabelName, number>;
  lastLabel: LabelName;
  lastSeen: number;
  userId: string | null;
  /** Whether the latest frame was scored by the user's personal head. */
  personalized: boolean;
  /** Where userId came from (track / face / camera); null = nobody; undefined when the server runs with IDENTITY=off. */
  identity?: FaceIdentity | null;
}

export interface CalibrationState {
  cameraId: string | null;
  running: boolean;
  prompt: EventOf<'calibration.prompt'> | null;
  /** When the current prompt arrived (the countdown ticks locally between prompts). */
  promptAt: number;
  accepted: Partial<Record<LabelName, number>>;
  lastSample: EventOf<'calibration.sample'> | null;
  rejected: number;
  captured: Partial<Record<LabelName, number>> | null;
  training: boolean;
  progress: EventOf<'finetune.progress'>[];
  result: { version: number; metrics: FinetuneMetrics; active: boolean } | null;
  failure: string | null;
}

export interface Toast {
  id: number;
  text: string;
}

function emptyCalibration(): CalibrationState {
  return {
    cameraId: null,
    running: false,
    prompt: null,
    promptAt: 0,
    accepted: {},
    lastSample: null,
    rejected: 0,
    captured: null,
    training: false,
    progress: [],
    result: null,
    failure: null,
  };
}

export function describeError(err: unknown): string {
  if (err instanceof IExpressionError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * The dashboard's state. Structural changes (cameras, users, calibration, connection) notify Preact; high-rate data
 * (expression events, previews, histories) sits in maps that canvases and charts read on their own clock, so a busy
 * camera does not re-render the page.
 */
export class DashboardStore {
  readonly client: IExpressionClient;
  readonly rest: IExpressionRest;
  connection: ConnectionState = 'idle';
  needsLogin = false;
  loginError: string | null = null;
  cameras = new Map<string, CameraView>();
  users: UserView[] = [];
  selectedUserId: string | null = null;
  /** The camera id this browser's webcam was given by `browser.open`. */
  webcamCameraId: string | null = null;
  /** Latest expression events per camera, newest last (a few, to match previews by timestamp). */
  readonly expressions = new Map<string, ExpressionEvent[]>();
  readonly previews = new Map<string, PreviewFrame>();
  readonly tracks = new Map<string, TrackHistory>();
  readonly calibration = new Map<string, CalibrationState>();
  toasts: Toast[] = [];
  private listeners = new Set<() => void>();
  private toastId = 0;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(origin: string) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    this.client = new IExpressionClient({ url: origin, token, reconnect: { initialMs: 300, maxMs: 5000 } });
    this.rest = new IExpressionRest({ baseUrl: origin, token });
    this.client.state$.subscribe((state) => {
      this.connection = state;
      if (state === 'unauthorized') {
        this.needsLogin = true;
        this.loginError = this.client.lastClose?.reason || null;
      }
      if (state === 'open') {
        this.needsLogin = false;
        this.loginError = null;
      }
      this.notify();
    });
    this.client.events$.subscribe((event) => this.handle(event));
    this.client.previews$.subscribe((frame) => this.previews.set(frame.cameraId, frame));
    this.client.reconnected$.subscribe(() => void this.refresh());
    // camera.status events carry fps only on state changes; the measured rate is polled so tiles show a live number.
    setInterval(() => void this.pollFps(), FPS_POLL_MS);
  }

  private async pollFps(): Promise<void> {
    if (this.connection !== 'open' || this.cameras.size === 0) return;
    let changed = false;
    try {
      const { cameras = [] } = await this.client.command('camera.list', {});
      for (const c of cameras) {
        const known = this.cameras.get(c.id);
        if (known && known.measuredFps !== c.measuredFps) {
          this.cameras.set(c.id, { ...known, measuredFps: c.measuredFps });
          changed = true;
        }
      }
    } catch {
      return; // a lost connection is already shown by the header badge; the next poll tries again
    }
    if (changed) this.notify();
  }

  async start(): Promise<void> {
    try {
      await this.client.connect();
    } catch {
      return; // unauthorized: the login dialog is showing
    }
    await this.afterLogin();
  }

  async login(token: string): Promise<void> {
    sessionStorage.setItem(TOKEN_KEY, token);
    this.rest.token = token;
    try {
      await this.client.setToken(token);
    } catch (err) {
      this.loginError = err instanceof IExpressionError && err.code === 'unauthorized' ? 'That token was not accepted.' : describeError(err);
      this.notify();
      return;
    }
    await this.afterLogin();
  }

  logout(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    this.rest.token = null;
    void this.client.setToken(null).catch(() => undefined);
  }

  private async afterLogin(): Promise<void> {
    try {
      await this.client.subscribe({ cameras: '*', preview: true });
    } catch (err) {
      this.toast(`Could not subscribe to cameras: ${describeError(err)}`);
    }
    await this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      const [cameras, users] = await Promise.all([this.client.command('camera.list', {}), this.client.command('user.list', {})]);
      this.cameras = new Map((cameras.cameras ?? []).map((c) => [c.id, c]));
      this.users = users.users ?? [];
      if (this.selectedUserId && !this.users.some((u) => u.id === this.selectedUserId)) this.selectedUserId = null;
      this.notify();
    } catch (err) {
      this.toast(`Could not load cameras and users: ${describeError(err)}`);
    }
  }

  private refreshSoon(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refresh();
    }, 200);
  }

  calibrationOf(userId: string): CalibrationState {
    let state = this.calibration.get(userId);
    if (!state) this.calibration.set(userId, (state = emptyCalibration()));
    return state;
  }

  toast(text: string): void {
    const toast = { id: ++this.toastId, text };
    this.toasts = [...this.toasts.slice(-3), toast];
    this.notify();
    setTimeout(() => this.dismiss(toast.id), 8000);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
    this.notify();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(): void {
    for (const listener of this.listeners) listener();
  }

  userName(userId: string | null): string | null {
    if (!userId) return null;
    return this.users.find((u) => u.id === userId)?.name ?? userId;
  }

  latestExpression(cameraId: string): ExpressionEvent | undefined {
    return this.expressions.get(cameraId)?.at(-1);
  }

  /** The expression event closest in capture time to `ts` (so a preview frame gets its own boxes). */
  expressionAt(cameraId: string, ts: number): ExpressionEvent | undefined {
    const list = this.expressions.get(cameraId);
    if (!list?.length) return undefined;
    let best = list[0];
    for (const e of list) if (Math.abs(e.ts - ts) < Math.abs(best.ts - ts)) best = e;
    return Math.abs(best.ts - ts) < 1000 ? best : list.at(-1);
  }

  tracksOf(cameraId: string): TrackHistory[] {
    return [...this.tracks.values()].filter((t) => t.cameraId === cameraId).sort((a, b) => a.trackId - b.trackId);
  }

  private handle(event: ServerEvent): void {
    switch (event.type) {
      case 'expression':
        return this.handleExpression(event);
      case 'camera.status': {
        const camera = this.cameras.get(event.cameraId);
        if (!camera) return this.refreshSoon();
        // In a cluster a camera that starts streaming may have moved to another node: reload the views for their `node`.
        if (camera.node !== undefined && event.state === 'streaming' && camera.status !== 'streaming') this.refreshSoon();
        this.cameras.set(event.cameraId, { ...camera, status: event.state, reason: event.reason, measuredFps: event.fps ?? camera.measuredFps });
        return this.notify();
      }
      case 'identity.changed': {
        // Recognition changed its mind about an open track: the face detail and captions follow at once.
        const history = this.tracks.get(`${event.cameraId}/${event.trackId}`);
        if (!history) return;
        Object.assign(history, { userId: event.userId, identity: event.identity });
        return this.notify();
      }
      case 'camera.removed':
        this.cameras.delete(event.cameraId);
        this.expressions.delete(event.cameraId);
        this.previews.delete(event.cameraId);
        return this.notify();
      case 'calibration.prompt': {
        const state = this.calibrationOf(event.userId);
        Object.assign(state, { running: true, prompt: event, promptAt: Date.now() });
        return this.notify();
      }
      case 'calibration.sample': {
        const state = this.calibrationOf(event.userId);
        state.lastSample = event;
        if (event.status === 'accepted') state.accepted = { ...state.accepted, [event.label]: event.count };
        else state.rejected++;
        return this.notify();
      }
      case 'calibration.captured': {
        const state = this.calibrationOf(event.userId);
        Object.assign(state, { running: false, prompt: null, captured: event.counts });
        this.refreshSoon();
        return this.notify();
      }
      case 'finetune.progress': {
        const state = this.calibrationOf(event.userId);
        state.training = true;
        state.progress = [...state.progress, event];
        return this.notify();
      }
      case 'model.updated': {
        const state = this.calibrationOf(event.userId);
        Object.assign(state, { training: false, result: { version: event.version, metrics: event.metrics, active: event.active } });
        this.refreshSoon();
        return this.notify();
      }
      case 'finetune.failed': {
        const state = this.calibrationOf(event.userId);
        Object.assign(state, { training: false, failure: event.message });
        this.toast(`Fine-tuning failed: ${event.message}`);
        return;
      }
      case 'error':
        return this.toast(`Server error (${event.code}): ${event.message}`);
      default:
        return;
    }
  }

  private handleExpression(event: ExpressionEvent): void {
    const list = this.expressions.get(event.cameraId) ?? [];
    list.push(event);
    if (list.length > 12) list.shift();
    this.expressions.set(event.cameraId, list);
    const t = event.ts / 1000;
    let structural = false;
    for (const face of event.faces) {
      const key = `${event.cameraId}/${face.trackId}`;
      let history = this.tracks.get(key);
      if (!history) {
        structural = true;
        history = {
          cameraId: event.cameraId,
          trackId: face.trackId,
          t: [],
          scores: Object.fromEntries(LABEL_NAMES.map((l) => [l, []])) as unknown as Record<LabelName, number[]>,
          counts: Object.fromEntries(LABEL_NAMES.map((l) => [l, 0])) as Record<LabelName, number>,
          lastLabel: face.label,
          lastSeen: event.ts,
          userId: face.userId,
          personalized: face.personalized,
          identity: face.identity,
        };
        this.tracks.set(key, history);
      }
      history.t.push(t);
      for (const label of LABEL_NAMES) history.scores[label].push(face.scores[label] ?? 0);
      history.counts[face.label]++;
      history.lastLabel = face.label;
      history.lastSeen = event.ts;
      // Who the face is can change mid-track (recognition settles, an assignment): re-render lists that name it.
      if (history.userId !== face.userId || history.identity?.source !== face.identity?.source) structural = true;
      history.userId = face.userId;
      history.personalized = face.personalized;
      history.identity = face.identity;
      const cut = history.t.findIndex((x) => x >= t - HISTORY_MS / 1000);
      if (cut > 0) {
        history.t.splice(0, cut);
        for (const label of LABEL_NAMES) history.scores[label].splice(0, cut);
      }
    }
    if (structural) this.notify();
  }
}

let store: DashboardStore | null = null;
export function getStore(): DashboardStore {
  return (store ??= new DashboardStore(location.origin));
}

/** Re-renders the component whenever the store notifies. */
export function useStore(): DashboardStore {
  const s = getStore();
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => s.subscribe(() => bump(undefined)), [s]);
  return s;
}

/** Re-renders every `ms` (for live numbers that are not worth a store notification). */
export function useTick(ms: number): void {
  const [, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => {
    const timer = setInterval(() => bump(undefined), ms);
    return () => clearInterval(timer);
  }, [ms]);
}
