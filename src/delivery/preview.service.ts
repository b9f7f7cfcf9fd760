import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Subscription } from 'rxjs';
import sharp from 'sharp';
import { CONFIG, Config } from '../config';
import type { Frame } from '../contracts/frames';
import { encodePreview } from '../contracts/wire';
import { ConnectionRegistry } from './connection.registry';
import { CAMERA_API, CameraApi } from './delivery.tokens';

/**
 * Low-rate JPEG previews for clients that subscribed with `preview: true`. A frame is encoded only when some
 * connection wants that camera, at most PREVIEW_FPS per camera, one encode in flight per camera (frames arriving
 * meanwhile are skipped: latest wins). sharp encodes off the event loop (libuv pool).
 */
@Injectable()
export class PreviewService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('PreviewService');
  private readonly subscription = new Subscription();
  private readonly lastEncode = new Map<string, number>();
  private readonly encoding = new Set<string>();
  private readonly minIntervalMs: number;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(ConnectionRegistry) private readonly connections: ConnectionRegistry,
    @Inject(CAMERA_API) private readonly cameras: CameraApi,
  ) {
    this.minIntervalMs = 1000 / config.PREVIEW_FPS;
  }

  onModuleInit(): void {
    this.subscription.add(this.cameras.frames$.subscribe({ next: (f) => this.onFrame(f) }));
  }

  onModuleDestroy(): void {
    this.subscription.unsubscribe();
  }

  private wanted(cameraId: string): boolean {
    for (const c of this.connections) if (c.principal && c.previews.has(cameraId)) return true;
    return false;
  }

  /** Returns the encode promise when this frame is encoded (tests await it), else null. */
  onFrame(frame: Frame, now = Date.now()): Promise<void> | null {
    const id = frame.cameraId;
    if (this.encoding.has(id) || now - (this.lastEncode.get(id) ?? -Infinity) < this.minIntervalMs) return null;
    if (!this.wanted(id)) return null;
    this.encoding.add(id);
    this.lastEncode.set(id, now);
    return encodeJpeg(frame, this.config.PREVIEW_WIDTH)
      .then((jpeg) => {
        const message = encodePreview({ cameraId: id, ts: frame.ts, jpeg });
        for (const c of this.connections) if (c.principal && c.previews.has(id)) c.sendPreview(message);
      })
      .catch((err: unknown) => this.logger.warn(`preview of camera ${id} failed: ${(err as Error).message}`))
      .finally(() => this.encoding.delete(id));
  }
}

/** Frame (packed BGR24) -> JPEG at most `width` wide. */
export async function encodeJpeg(frame: Frame, width: number): Promise<Buffer> {
  return sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .recomb([
      [0, 0, 1],
      [0, 1, 0],
      [1, 0, 0],
    ])
    .resize({ width, withoutEnlargement: true })
    .jpeg({ quality: 70 })
    .toBuffer();
}
