import { availableParallelism } from 'node:os';
import { Subscription } from 'rxjs';
import type { NodeCameraState, NodeLoad } from '../contracts/cluster';
import type { EventBus } from '../events/event-bus';

/** States in which a camera occupies its node (it runs ffmpeg or is about to). */
const RUNNING = new Set(['connecting', 'streaming', 'reconnecting']);

export interface NodeLoadMeterOptions {
  nodeId: string;
  now?: () => number;
  /** process.cpuUsage in µs (user + system), injectable for tests. */
  cpuMicros?: () => number;
  cores?: number;
}

/**
 * What this node runs and how busy it is, measured from its own bus: the cameras whose last local `camera.status` is
 * connecting/streaming/reconnecting (until `camera.removed`), the frames its pipeline processed (one local
 * `expression` event per frame, faces or not) and the process's CPU time. Events of other nodes (meta.node set to
 * another id) are not counted. sample() returns the rates since the previous sample.
 */
export class NodeLoadMeter {
  private readonly running = new Set<string>();
  /** The last local camera.status of each camera (until it is removed or stopped here). */
  private readonly lastStates = new Map<string, NodeCameraState>();
  private readonly subscription = new Subscription();
  private frames = 0;
  private lastAt: number;
  private lastCpu: number;
  private readonly now: () => number;
  private readonly cpuMicros: () => number;
  readonly cores: number;
  private last: NodeLoad;

  constructor(
    bus: EventBus,
    private readonly options: NodeLoadMeterOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.cpuMicros = options.cpuMicros ?? (() => {
      const u = process.cpuUsage();
      return u.user + u.system;
    });
    this.cores = options.cores ?? availableParallelism();
    this.lastAt = this.now();
    this.lastCpu = this.cpuMicros();
    this.last = { framesPerSecond: 0, cpu: 0, cores: this.cores };
    const mine = (node: string | undefined) => node === undefined || node === options.nodeId;
    this.subscription.add(
      bus.on('expression', 'camera.status', 'camera.removed').subscribe((e) => {
        if (!mine(e.meta.node)) return;
        if (e.name === 'expression') this.frames++;
        else if (e.name === 'camera.removed') {
          this.running.delete(e.payload.cameraId);
          this.lastStates.delete(e.payload.cameraId);
        } else {
          const p = e.payload;
          if (RUNNING.has(p.state)) this.running.add(p.cameraId);
          else this.running.delete(p.cameraId);
          if (p.state === 'stopped') this.lastStates.delete(p.cameraId);
          else this.lastStates.set(p.cameraId, { state: p.state, ...(p.reason !== undefined ? { reason: p.reason } : {}), ...(p.fps !== undefined ? { fps: p.fps } : {}), ts: p.ts });
        }
      }),
    );
  }

  /** The cameras running here now, sorted. */
  cameras(): string[] {
    return [...this.running].sort();
  }

  /** The last state of each camera here (running or failed; stopped and removed ones are dropped), by id. */
  states(): Record<string, NodeCameraState> {
    return Object.fromEntries([...this.lastStates].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** Rates since the previous sample (the previous sample's figures when called again within 100 ms). */
  sample(): NodeLoad {
    const at = this.now();
    const seconds = (at - this.lastAt) / 1000;
    if (seconds < 0.1) return this.last;
    const cpu = this.cpuMicros();
    this.last = {
      framesPerSecond: Math.round((this.frames / seconds) * 10) / 10,
      cpu: Math.round(Math.min(1, Math.max(0, (cpu - this.lastCpu) / 1e6 / seconds / this.cores)) * 1000) / 1000,
      cores: this.cores,
    };
    this.frames = 0;
    this.lastAt = at;
    this.lastCpu = cpu;
    return this.last;
  }

  stop(): void {
    this.subscription.unsubscribe();
  }
}
