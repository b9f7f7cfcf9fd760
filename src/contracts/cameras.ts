/** Cameras: what a client sends to add one, what the server shows of one, and its lifecycle state. */
import { z } from 'zod';

const name = z.string().trim().min(1).max(100);

export const CameraInputSchema = z
  .object({
    url: z.string().min(1).max(2048),
    name: name.optional(),
    fps: z.number().positive().max(60).optional(),
    loop: z.boolean().optional(),
    /** RTSP transport; TCP unless said otherwise. */
    transport: z.enum(['tcp', 'udp']).optional(),
    userId: z.string().min(1).max(64).nullable().optional(),
  })
  .strict();
export type CameraInput = z.infer<typeof CameraInputSchema>;

/** Where a camera's frames come from; `browser` cameras are pushed over a WebSocket and never stored. */
export type CameraKind = 'rtsp' | 'http' | 'file' | 'device' | 'browser';

export type CameraState = 'connecting' | 'streaming' | 'reconnecting' | 'failed' | 'stopped';

/** A camera's state change, as ingest reports it (the `camera.status` event adds its `type`). */
export interface CameraStatus {
  cameraId: string;
  state: CameraState;
  /** Why it is reconnecting or failed; never contains credentials. */
  reason?: string;
  fps?: number;
  ts: number;
}

export interface CameraView {
  id: string;
  name: string;
  /** The URL with any password replaced by `***`. */
  url: string;
  kind: CameraKind;
  fps: number;
  loop: boolean;
  userId: string | null;
  status: CameraState;
  reason?: string;
  measuredFps?: number;
  /**
   * The node that runs it (NODE_ID; `local` on a single node without one). In a cluster, null while no node holds it:
   * just added, or its node died and the lease has not expired yet (docs/CLUSTER.md, "Camera sharding").
   */
  node?: string | null;
}
