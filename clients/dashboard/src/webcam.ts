import { startBrowserCamera, type BrowserCamera } from '../../sdk/src/browser-camera';
import { describeError, getStore } from './store';

/**
 * This browser's webcam as a camera. It lives outside any page so frames keep flowing while the person moves between
 * pages (the calibration wizard uses it too).
 */
class WebcamService {
  stream: MediaStream | null = null;
  fps = 5;
  error: string | null = null;
  starting = false;
  private camera: BrowserCamera | null = null;
  private video: HTMLVideoElement | null = null;

  get running(): boolean {
    return this.stream !== null;
  }

  get stats(): { sent: number; skipped: number } {
    return this.camera?.stats ?? { sent: 0, skipped: 0 };
  }

  async start(fps = this.fps): Promise<void> {
    const store = getStore();
    if (this.stream || this.starting) return;
    this.starting = true;
    this.error = null;
    store.notify();
    try {
      this.fps = fps;
      this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
      // A detached, muted <video> is the frame source; pages show the same stream in their own element.
      const video = document.createElement('video');
      video.muted = true;
      video.playsInline = true;
      video.srcObject = this.stream;
      await video.play();
      this.video = video;
      this.camera = startBrowserCamera(store.client, {
        video,
        fps,
        name: 'This browser',
        onCamera: (cameraId) => {
          store.webcamCameraId = cameraId;
          store.notify();
          void store.refresh();
        },
        onError: (err) => store.toast(`Webcam: ${describeError(err)}`),
      });
    } catch (err) {
      this.error =
        err instanceof DOMException && err.name === 'NotAllowedError'
          ? 'Camera permission was denied. Allow it in the address bar, then try again.'
          : `Could not open the webcam: ${describeError(err)}`;
      this.stop();
    } finally {
      this.starting = false;
      store.notify();
    }
  }

  /**
   * The webcam's current picture as a JPEG at the resolution the browser camera sends (long side ≤ 640, so face
   * boxes of expression events map onto it by width ratio), for "This is …" enrolment. Null when not running.
   */
  async snapshot(): Promise<Blob | null> {
    const video = this.video;
    if (!video || !video.videoWidth) return null;
    const scale = Math.min(1, 640 / Math.max(video.videoWidth, video.videoHeight));
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext('2d')!.drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob((blob) => resolve(blob), 'image/jpeg', 0.92));
  }

  setFps(fps: number): void {
    this.fps = fps;
    this.camera?.setFps(fps);
    getStore().notify();
  }

  stop(): void {
    this.camera?.stop();
    this.camera = null;
    this.stream?.getTracks().forEach((t) => t.stop());
    this.stream = null;
    if (this.video) this.video.srcObject = null;
    this.video = null;
    const store = getStore();
    store.webcamCameraId = null;
    store.notify();
  }
}

export const webcam = new WebcamService();
