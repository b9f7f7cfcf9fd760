import type { IExpressionClient } from './client';

export interface BrowserCameraOptions {
  /** A playing <video> whose srcObject is the webcam stream (the helper never touches the DOM otherwise). */
  video: HTMLVideoElement;
  name?: string;
  /** Frames per second pushed to the server. Default 5. */
  fps?: number;
  /** JPEG quality 0..1. Default 0.7. */
  quality?: number;
  /** Longest side of the pushed frame, px. Default 640 (enough for face crops, small on the wire). */
  maxSide?: number;
  /** Called with the camera id after `browser.open`, and again if a reconnect gave a new one. */
  onCamera?: (cameraId: string) => void;
  onError?: (err: unknown) => void;
}

export interface BrowserCamera {
  readonly cameraId: string | null;
  /** Frames sent / skipped (not connected, socket backlog, or the previous encode still running). */
  readonly stats: { sent: number; skipped: number };
  setFps(fps: number): void;
  stop(): void;
}

/**
 * Pushes a browser's webcam to the gateway: `browser.open`, then JPEG frames `[channel][jpeg]` at `fps`.
 * After a reconnect it re-announces itself (the server gives a new channel) and keeps going.
 */
export function startBrowserCamera(client: IExpressionClient, options: BrowserCameraOptions): BrowserCamera {
  const { video, name = 'Browser webcam', quality = 0.7, maxSide = 640 } = options;
  let fps = options.fps ?? 5;
  let channel: number | null = null;
  let cameraId: string | null = null;
  let timer: ReturnType<typeof setInterval> | null = null;
  let encoding = false;
  let stopped = false;
  const stats = { sent: 0, skipped: 0 };
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d');

  const announce = async (): Promise<void> => {
    channel = null;
    try {
      const opened = await client.openBrowserCamera({ name, fps });
      if (stopped) return;
      channel = opened.channel;
      if (opened.cameraId !== cameraId) {
        cameraId = opened.cameraId;
        options.onCamera?.(cameraId);
      }
    } catch (err) {
      options.onError?.(err);
    }
  };

  const tick = (): void => {
    if (channel === null || encoding || !context || video.readyState < 2 || video.videoWidth === 0) {
      stats.skipped++;
      return;
    }
    const scale = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    encoding = true;
    const sendingOn = channel;
    canvas.toBlob(
      (blob) => {
        if (!blob || stopped) {
          encoding = false;
          return;
        }
        void blob.arrayBuffer().then((buffer) => {
          encoding = false;
          if (client.sendFrame(sendingOn, new Uint8Array(buffer))) stats.sent++;
          else stats.skipped++;
        });
      },
      'image/jpeg',
      quality,
    );
  };

  const schedule = (): void => {
    if (timer) clearInterval(timer);
    timer = setInterval(tick, 1000 / fps);
  };

  const reconnected = client.reconnected$.subscribe(() => void announce());
  void client.connect().then(announce, (err) => options.onError?.(err));
  schedule();

  return {
    get cameraId() {
      return cameraId;
    },
    stats,
    setFps(next: number) {
      fps = next;
      schedule();
    },
    stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      reconnected.unsubscribe();
      const id = cameraId;
      if (id) void client.command('camera.remove', { cameraId: id }).catch(() => undefined);
    },
  };
}
