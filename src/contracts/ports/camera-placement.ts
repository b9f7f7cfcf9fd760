/**
 * Which node runs which camera (port and Nest token), between ingest's CameraService (which runs cameras) and the
 * cluster's placement (which decides, with leases in NATS: docs/CLUSTER.md, "Camera sharding"). Server-only.
 *
 * On a single node (`clustered` false) every stored camera runs here, exactly as without this port. In a cluster the
 * placement tells the host when to start and stop each stored camera; the host never starts one on its own.
 */
import type { CameraStatus } from '../cameras';

/** What the placement needs from the node's cameras (CameraService). */
export interface PlacementHost {
  /** The stored cameras' ids, as this node's repository lists them now (replicated cameras included). */
  storedCameraIds(): string[];
  /** Runs the stored camera here (no-op when it already runs or is no longer stored). */
  start(cameraId: string): void;
  /** Stops it here; resolves when its ffmpeg has exited. */
  stop(cameraId: string): Promise<void>;
}

export abstract class CameraPlacement {
  /** This node's id (NODE_ID). */
  abstract readonly nodeId: string;
  /** false on a single node: every camera runs here and nothing below is called but ownerOf. */
  abstract readonly clustered: boolean;
  /** Starts placing the host's cameras (claims, renewals, releases) until detach(). */
  abstract attach(host: PlacementHost): Promise<void>;
  /** Stops this node's cameras and releases their leases, so the other nodes take them at once. */
  abstract detach(): Promise<void>;
  /** The node that runs the camera as far as this node knows, or null (nobody holds it now). */
  abstract ownerOf(cameraId: string): string | null;
  /** A camera was added or removed: place it now rather than at the next round. */
  abstract changed(): void;
  /**
   * The state of a camera another node runs, as that node last reported it in its heartbeat (null: unknown, or it
   * runs here / nowhere). A node that joins after a camera started learns its state from this, not only from the
   * camera.status events it hears (docs/CLUSTER.md, "Camera sharding").
   */
  reportedStatus(cameraId: string): CameraStatus | null {
    void cameraId;
    return null;
  }
}

/** One node on its own: every camera is its own. */
export class LocalCameraPlacement extends CameraPlacement {
  readonly clustered = false;

  constructor(readonly nodeId: string) {
    super();
  }

  async attach(): Promise<void> {}
  async detach(): Promise<void> {}
  ownerOf(): string {
    return this.nodeId;
  }
  changed(): void {}
}
