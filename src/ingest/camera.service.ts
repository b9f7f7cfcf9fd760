import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { defer, Observable, Subject, Subscription, switchMap } from 'rxjs';
import { CONFIG, Config } from '../config';
import { CameraInput, CameraInputSchema, CameraStatus, CameraView } from '../contracts/cameras';
import { Frame } from '../contracts/frames';
import { CameraPlacement, PlacementHost } from '../contracts/ports/camera-placement';
import { EventBus } from '../events/event-bus';
import { CameraRecord, CameraRepository } from '../storage/ports/camera.repository';
import { BrowserSource, PushOutcome } from './browser.source';
import { CameraSource, isLiveSource, parseCameraUrl, redactUrl } from './camera-url';
import { CameraRunner, RunnerSettings } from './camera.runner';
import { CLOCK, Clock } from './clock';
import {
  DESTINATION_FORBIDDEN_REASON,
  DestinationForbiddenError,
  DestinationPolicy,
  HOST_RESOLVER,
  HostResolver,
  urlHost,
} from './destination-policy';
import { buildFfmpegArgs } from './ffmpeg.args';
import { FfmpegLocator } from './ffmpeg.locator';
import { ffmpegFrames, SOURCE_FAILURE_TEXT } from './ffmpeg.source';
import { FileProbe } from './file.probe';
import { IngestError } from './ingest.errors';
import { ProcessSpawner } from './process.spawner';

/** A camera fed by a browser over the WebSocket: ephemeral, never stored. */
export interface BrowserCameraHandle {
  id: string;
  /** One encoded JPEG/WebP/PNG frame. Never throws: a bad frame resolves `rejected` with a typed error. */
  push(buf: Buffer): Promise<PushOutcome>;
  close(): Promise<void>;
}

interface Managed {
  record: CameraRecord | { id: string; name: string; url: string; kind: 'browser'; fps: number; loop: false; userId: string | null };
  runner?: CameraRunner;
  browser?: BrowserSource;
  /** Set when the stored URL no longer parses (e.g. rules got stricter): the camera stays listed as failed. */
  invalid?: string;
  subs: Subscription[];
}

const ID_BYTES = 6;

/**
 * The cameras: add (validate, persist, start), remove (stop — no ffmpeg left — and delete), list, retry, and
 * ephemeral browser cameras. `frames$` merges every camera's frames; `status$` every state change.
 * Neither buffers: a subscriber that cannot keep up must sample (the pipeline keeps the latest frame per camera).
 *
 * In a cluster (CameraPlacement.clustered) a stored camera runs only on the node that holds its lease: the placement
 * starts and stops it here (PlacementHost); add() stores it and asks for placement. list()/get() show every stored
 * camera with the `node` that runs it; one running elsewhere shows the state its node last published (its camera.status
 * events, or its membership heartbeat, whichever is newer).
 */
@Injectable()
export class CameraService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('CameraService');
  private readonly cameras = new Map<string, Managed>();
  private readonly frames = new Subject<Frame>();
  private readonly statuses = new Subject<CameraStatus>();
  private shuttingDown = false;
  readonly frames$: Observable<Frame> = this.frames.asObservable();
  readonly status$: Observable<CameraStatus> = this.statuses.asObservable();
  private readonly destinations: DestinationPolicy;
  /** The last camera.status heard of each camera other nodes run (cluster only), by camera id, with its sender. */
  private readonly remote = new Map<string, { node: string; status: CameraStatus }>();
  private remoteSub: Subscription | null = null;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(CameraRepository) private readonly repo: CameraRepository,
    @Inject(FfmpegLocator) private readonly locator: FfmpegLocator,
    @Inject(ProcessSpawner) private readonly spawner: ProcessSpawner,
    @Inject(FileProbe) private readonly probe: FileProbe,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(HOST_RESOLVER) resolver: HostResolver,
    @Optional() @Inject(CameraPlacement) private readonly placement: CameraPlacement | null = null,
    @Optional() @Inject(EventBus) private readonly bus: EventBus | null = null,
  ) {
    this.destinations = new DestinationPolicy({
      allowLinkLocal: config.CAMERA_ALLOW_LINK_LOCAL,
      resolver,
      lookupTimeoutMs: config.IO_TIMEOUT_SECONDS * 1000,
    });
  }

  /** Part of a cluster: stored cameras run where the placement says, not all here. */
  private get clustered(): boolean {
    return this.placement?.clustered === true;
  }

  onApplicationBootstrap(): void {
    if (this.clustered) {
      this.watchRemote();
      this.placement!.attach(this.placementHost()).catch((e) => this.log.error(`camera placement: ${e instanceof Error ? e.message : e}`));
      return;
    }
    for (const record of this.repo.list()) this.startStored(record);
    if (this.cameras.size) this.log.log(`restarted ${this.cameras.size} stored camera(s)`);
  }

  async onApplicationShutdown(): Promise<void> {
    this.shuttingDown = true;
    // Cluster: stop our cameras and release their leases first, so the other nodes take them over at once.
    if (this.clustered) await this.placement!.detach().catch(() => undefined);
    this.remoteSub?.unsubscribe();
    await Promise.all([...this.cameras.keys()].map((id) => this.stopOne(id)));
    this.cameras.clear();
    this.frames.complete();
    this.statuses.complete();
  }

  /**
   * Validates, stores and starts a camera. Throws IngestError (`bad_message`, `invalid_url`, `destination_forbidden`).
   * A `userId` is stored as given: the delivery edge checks that the user exists (CameraAccess).
   */
  async add(input: CameraInput): Promise<CameraView> {
    const parsed = CameraInputSchema.safeParse(input);
    if (!parsed.success) {
      throw new IngestError('bad_message', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    }
    const inp = parsed.data;
    const source = parseCameraUrl(inp.url, { loop: inp.loop, transport: inp.transport });
    if (source.kind === 'file') await this.probe.check(source.path);
    // A name that does not resolve yet is stored (it may later); the check before every start refuses it then.
    await this.checkDestination(source);
    if (this.shuttingDown) throw new IngestError('unavailable', 'server is shutting down');
    const record: CameraRecord = {
      id: this.newId(),
      name: inp.name ?? defaultName(source),
      url: inp.url,
      kind: source.kind,
      fps: inp.fps ?? this.config.DEFAULT_FPS,
      loop: source.kind === 'file' ? source.loop : false,
      transport: source.kind === 'rtsp' ? source.transport : 'tcp',
      userId: inp.userId ?? null,
      createdAt: this.clock.now(),
    };
    this.repo.insert(record);
    if (this.clustered) {
      // The least-loaded node claims it (this one, possibly): placement starts it there.
      this.placement!.changed();
    } else {
      this.startRunner(record, source);
    }
    this.log.log(`camera ${record.id} added: ${redactUrl(record.url)}`);
    return this.view(record.id);
  }

  /**
   * Stops the camera (its ffmpeg has exited when this resolves) and deletes it. Throws `not_found`. In a cluster, a
   * camera another node runs is deleted from the (replicated) table; its node stops it when its placement sees it gone.
   */
  async remove(id: string): Promise<void> {
    const local = this.cameras.get(id);
    if (!local && !(this.clustered && this.repo.get(id))) throw notFound(id);
    await this.stopOne(id);
    this.cameras.delete(id);
    if (!local?.browser) this.repo.delete(id);
    this.remote.delete(id);
    if (this.clustered) this.placement!.changed();
  }

  list(): CameraView[] {
    if (!this.clustered) return [...this.cameras.keys()].map((id) => this.view(id));
    const ids = new Set(this.repo.list().map((r) => r.id));
    for (const [id, m] of this.cameras) if (m.browser) ids.add(id);
    return [...ids].map((id) => this.view(id));
  }

  /** The node that runs the camera: this one for its running and browser cameras, else the lease holder (cluster). */
  nodeOf(id: string): string | null {
    if (this.cameras.has(id)) return this.placement?.nodeId ?? null;
    return this.placement?.ownerOf(id) ?? null;
  }

  get(id: string): CameraView {
    return this.view(id);
  }

  /** Starts a camera over with a fresh failure count (from `failed`, `stopped`, or any state). */
  retry(id: string): CameraView {
    const m = this.cameras.get(id);
    if (!m && this.clustered && this.repo.get(id)) {
      const node = this.placement!.ownerOf(id);
      throw new IngestError('conflict', node ? `camera ${id} runs on node ${node}` : `camera ${id} runs on no node yet`);
    }
    if (!m) throw notFound(id);
    if (m.browser) throw new IngestError('conflict', 'a browser camera cannot be retried; open a new one');
    if (m.invalid) throw new IngestError('invalid_url', m.invalid);
    m.runner!.retry();
    return this.view(id);
  }

  /** Binds the camera to a user (faces on it default to that user's model). */
  setUser(id: string, userId: string | null): CameraView {
    const m = this.cameras.get(id);
    if (!m) {
      // Cluster: a camera another node runs; that node reads the binding from the (replicated) table.
      if (this.clustered && this.repo.setUser(id, userId)) return this.view(id);
      throw notFound(id);
    }
    m.record.userId = userId;
    if (!m.browser) this.repo.setUser(id, userId);
    return this.view(id);
  }

  openBrowserCamera(name?: string, fps?: number): BrowserCameraHandle {
    if (this.shuttingDown) throw new IngestError('unavailable', 'server is shutting down');
    const id = this.newId('b');
    const rate = fps ?? this.config.DEFAULT_FPS;
    const browser = new BrowserSource({
      cameraId: id,
      fps: rate,
      maxBytes: this.config.BROWSER_FRAME_MAX_BYTES,
      maxPixels: this.config.BROWSER_FRAME_MAX_PIXELS,
      maxSide: this.config.FRAME_MAX_SIDE,
      clock: this.clock,
    });
    const m: Managed = {
      record: { id, name: name ?? `browser ${id}`, url: 'browser:', kind: 'browser', fps: rate, loop: false, userId: null },
      browser,
      subs: [],
    };
    m.subs.push(browser.frames$.subscribe((f) => this.frames.next(f)));
    m.subs.push(browser.status$.subscribe((s) => this.statuses.next(s)));
    this.cameras.set(id, m);
    this.statuses.next(browser.status());
    return {
      id,
      push: (buf) => browser.push(buf),
      close: () => (this.cameras.has(id) ? this.remove(id) : Promise.resolve()),
    };
  }

  /** Counters for metrics: restarts and failures per ffmpeg camera, frames per browser camera. */
  stats(id: string): { restarts: number; failures: number } | undefined {
    const r = this.cameras.get(id)?.runner;
    return r && { restarts: r.restartCount, failures: r.failureCount };
  }

  /** What the cluster's placement drives: start and stop stored cameras here. */
  private placementHost(): PlacementHost {
    return {
      storedCameraIds: () => this.repo.list().map((r) => r.id),
      start: (id) => {
        if (this.shuttingDown || this.cameras.has(id)) return;
        const record = this.repo.get(id);
        if (!record) return;
        this.remote.delete(id);
        this.startStored(record);
      },
      stop: async (id) => {
        const m = this.cameras.get(id);
        if (!m || m.browser) return;
        await this.stopOne(id);
        if (this.cameras.get(id) === m) this.cameras.delete(id);
      },
    };
  }

  /** Cluster: the last camera.status of each camera other nodes run, for list()/get(). */
  private watchRemote(): void {
    if (!this.bus || this.remoteSub) return;
    const self = this.placement!.nodeId;
    this.remoteSub = this.bus.on('camera.status', 'camera.removed').subscribe((e) => {
      if (e.meta.node === undefined || e.meta.node === self) return;
      if (e.name === 'camera.removed') {
        this.remote.delete(e.payload.cameraId);
        return;
      }
      const p = e.payload;
      if (this.cameras.has(p.cameraId)) return;
      this.remote.set(p.cameraId, {
        node: e.meta.node,
        status: { cameraId: p.cameraId, state: p.state, ...(p.reason !== undefined ? { reason: p.reason } : {}), ...(p.fps !== undefined ? { fps: p.fps } : {}), ts: p.ts },
      });
    });
  }

  private startStored(record: CameraRecord): void {
    let source: CameraSource;
    try {
      source = parseCameraUrl(record.url, { loop: record.loop, transport: record.transport });
    } catch (err) {
      const reason = err instanceof IngestError ? err.message : String(err);
      this.cameras.set(record.id, { record, invalid: reason, subs: [] });
      this.statuses.next({ cameraId: record.id, state: 'failed', reason, ts: this.clock.now() });
      return;
    }
    this.startRunner(record, source);
  }

  private startRunner(record: CameraRecord, source: CameraSource): void {
    const c = this.config;
    const settings: RunnerSettings = {
      watchdogMs: c.WATCHDOG_SECONDS * 1000,
      startTimeoutMs: c.START_TIMEOUT_SECONDS * 1000,
      backoffBaseMs: c.BACKOFF_BASE_MS,
      backoffMaxMs: c.BACKOFF_MAX_MS,
      healthyMs: c.HEALTHY_SECONDS * 1000,
      maxRestarts: c.MAX_RESTARTS,
    };
    const runner = new CameraRunner(
      record.id,
      isLiveSource(source),
      (ctx) =>
        // The destination is checked again before every (re)start: a name can resolve elsewhere since it was added.
        defer(() => this.checkBeforeStart(record.id, source)).pipe(switchMap(() => ffmpegFrames({
          spawner: this.spawner,
          locate: () => this.locator.locate(),
          args: (info) =>
            buildFfmpegArgs(source, {
              fps: record.fps,
              maxSide: c.FRAME_MAX_SIDE,
              ioTimeoutUs: Math.round(c.IO_TIMEOUT_SECONDS * 1e6),
              capabilities: info.capabilities,
            }),
          cameraId: record.id,
          nextFrameId: ctx.nextFrameId,
          onSpawn: ctx.onSpawn,
        }))),
      settings,
      this.clock,
    );
    const m: Managed = { record, runner, subs: [] };
    m.subs.push(runner.frames$.subscribe((f) => this.frames.next(f)));
    m.subs.push(
      runner.status$.subscribe((s) => {
        // Clients get the category (s.reason); the log gets the full, redacted, upstream detail as well.
        if (s.state === 'failed' || s.state === 'reconnecting') {
          const detail = runner.detail;
          this.log.warn(`camera ${s.cameraId} ${s.state}: ${s.reason ?? ''}${detail ? ` [${detail}]` : ''}`);
        }
        this.statuses.next(s);
      }),
    );
    this.cameras.set(record.id, m);
    runner.start();
  }

  /** Network cameras only: files and devices are not destinations. Throws DestinationForbiddenError. */
  private async checkDestination(source: CameraSource): Promise<{ resolved: boolean }> {
    if (source.kind !== 'rtsp' && source.kind !== 'http') return { resolved: true };
    return this.destinations.check(urlHost(new URL(source.url)));
  }

  /**
   * Before a start: a refused destination fails the camera for good (a retry re-checks); a name that does not
   * resolve is a retryable `unreachable` attempt. Either way ffmpeg is not spawned.
   */
  private async checkBeforeStart(id: string, source: CameraSource): Promise<void> {
    let verdict: { resolved: boolean };
    try {
      verdict = await this.checkDestination(source);
    } catch (err) {
      if (err instanceof DestinationForbiddenError) {
        this.log.warn(`camera ${id} not started: ${err.message}`);
        // The client-facing reason names neither the host nor the address (those are in the log line above).
        throw new IngestError('destination_forbidden', DESTINATION_FORBIDDEN_REASON);
      }
      throw err;
    }
    if (!verdict.resolved) {
      throw new IngestError('unavailable', `${SOURCE_FAILURE_TEXT.unreachable} (the host name did not resolve)`, true);
    }
  }

  private async stopOne(id: string): Promise<void> {
    const m = this.cameras.get(id);
    if (!m) return;
    if (m.runner) await m.runner.stop();
    if (m.browser) m.browser.close();
    if (m.invalid) this.statuses.next({ cameraId: id, state: 'stopped', ts: this.clock.now() });
    for (const s of m.subs) s.unsubscribe();
    m.subs = [];
  }

  private view(id: string): CameraView {
    const m = this.cameras.get(id);
    if (!m) return this.remoteView(id);
    const src = m.runner ?? m.browser;
    const v: CameraView = { ...storedFields(m.record), status: m.invalid ? 'failed' : src!.state };
    const reason = m.invalid ?? m.runner?.reason;
    if (reason) v.reason = reason;
    if (src && src.state === 'streaming') v.measuredFps = src.measuredFps;
    if (this.placement) v.node = this.placement.nodeId;
    return v;
  }

  /** Cluster: a stored camera that does not run here, as its node last reported it. */
  private remoteView(id: string): CameraView {
    const r = this.clustered ? this.repo.get(id) : undefined;
    if (!r) throw notFound(id);
    const node = this.placement!.ownerOf(id);
    const last = node ? this.remoteStatus(id, node) : undefined;
    // Nobody holds it: it is being placed (or its node died and the lease has not expired yet).
    const v: CameraView = { ...storedFields(r), status: last?.state ?? 'connecting', node };
    if (last?.reason) v.reason = last.reason;
    if (last?.state === 'streaming' && last.fps !== undefined) v.measuredFps = last.fps;
    return v;
  }

  /**
   * The newer of the owner's last camera.status event heard here and the state in its last heartbeat: a node that
   * joined after the camera started heard no event (they are not repeated), but every heartbeat carries the state.
   * An event of a previous owner does not count.
   */
  private remoteStatus(id: string, node: string): CameraStatus | undefined {
    const heard = this.remote.get(id);
    const event = heard?.node === node ? heard.status : undefined;
    const reported = this.placement!.reportedStatus(id) ?? undefined;
    if (!event) return reported;
    if (!reported) return event;
    return reported.ts > event.ts ? reported : event;
  }

  private newId(prefix = 'c'): string {
    let id: string;
    do id = `${prefix}${randomBytes(ID_BYTES).toString('hex')}`;
    while (this.cameras.has(id));
    return id;
  }
}

/** What every view of a camera says of its record, wherever it runs; the URL's password is hidden. */
function storedFields(r: Managed['record']): Omit<CameraView, 'status'> {
  return { id: r.id, name: r.name, url: redactUrl(r.url), kind: r.kind, fps: r.fps, loop: r.loop, userId: r.userId };
}

function notFound(id: string): IngestError {
  return new IngestError('not_found', `no camera ${JSON.stringify(id.slice(0, 64))}`);
}

function defaultName(s: CameraSource): string {
  switch (s.kind) {
    case 'rtsp':
    case 'http':
      try {
        return new URL(s.url).host || s.kind;
      } catch {
        return s.kind;
      }
    case 'file':
      return basename(s.path);
    case 'device':
      return s.device;
  }
}
