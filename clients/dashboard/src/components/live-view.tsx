import { useEffect, useRef } from 'preact/hooks';
import type { FaceResult } from '../../../sdk/src';
import { drawFaces, faceAt, fitCanvas } from '../overlay';
import { getStore } from '../store';

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where media of `mw × mh` lands inside a `cw × ch` box with object-fit: contain. */
function contain(mw: number, mh: number, cw: number, ch: number): Rect {
  if (!mw || !mh) return { x: 0, y: 0, width: cw, height: ch };
  const s = Math.min(cw / mw, ch / mh);
  return { x: (cw - mw * s) / 2, y: (ch - mh * s) / 2, width: mw * s, height: mh * s };
}

interface LiveViewProps {
  cameraId: string;
  /** Show this MediaStream (the local webcam) instead of the server's JPEG previews. */
  stream?: MediaStream | null;
  label: string;
  onFaceClick?: (face: FaceResult) => void;
  highlightTrack?: number | null;
}

/**
 * Live video of one camera with face boxes drawn over it on every animation frame. For the local webcam the video is
 * the <video> itself (no round trip), and the boxes are the latest results; for server cameras it is the preview JPEG
 * and the boxes of the event with the same capture time.
 */
export function LiveView({ cameraId, stream, label, onFaceClick, highlightTrack }: LiveViewProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const video = useRef<HTMLVideoElement>(null);
  const geometry = useRef<{ target: Rect; eventId: number | null }>({ target: { x: 0, y: 0, width: 0, height: 0 }, eventId: null });

  useEffect(() => {
    if (stream && video.current) {
      video.current.srcObject = stream;
      void video.current.play().catch(() => undefined);
    }
  }, [stream]);

  useEffect(() => {
    const store = getStore();
    const el = canvas.current!;
    const ctx = el.getContext('2d')!;
    let raf = 0;
    let shownPreviewTs = -1;
    let image: ImageBitmap | null = null;
    let decoding = false;
    const draw = () => {
      raf = requestAnimationFrame(draw);
      fitCanvas(el);
      ctx.clearRect(0, 0, el.width, el.height);
      let target: Rect;
      let event;
      if (stream) {
        const v = video.current;
        target = contain(v?.videoWidth ?? 0, v?.videoHeight ?? 0, el.width, el.height);
        event = store.latestExpression(cameraId);
      } else {
        const preview = store.previews.get(cameraId);
        if (preview && preview.ts !== shownPreviewTs && !decoding) {
          decoding = true;
          const ts = preview.ts;
          createImageBitmap(new Blob([preview.jpeg as BlobPart], { type: 'image/jpeg' }))
            .then((bitmap) => {
              image?.close();
              image = bitmap;
              shownPreviewTs = ts;
            })
            .catch(() => (shownPreviewTs = ts))
            .finally(() => (decoding = false));
        }
        const latest = store.latestExpression(cameraId);
        const mw = image?.width ?? latest?.width ?? 640;
        const mh = image?.height ?? latest?.height ?? 480;
        target = contain(mw, mh, el.width, el.height);
        if (image) ctx.drawImage(image, target.x, target.y, target.width, target.height);
        else {
          ctx.fillStyle = '#1c1c24';
          ctx.fillRect(target.x, target.y, target.width, target.height);
        }
        event = image ? store.expressionAt(cameraId, shownPreviewTs) : latest;
      }
      geometry.current = { target, eventId: event?.frameId ?? null };
      if (event && Date.now() - event.ts < 3000 + (event.latencyMs ?? 0)) {
        drawFaces(ctx, event, target, (id) => store.userName(id), highlightTrack);
      }
    };
    raf = requestAnimationFrame(draw);
    return () => {
      cancelAnimationFrame(raf);
      image?.close();
    };
  }, [cameraId, stream, highlightTrack]);

  const click = (ev: MouseEvent) => {
    if (!onFaceClick) return;
    const el = canvas.current!;
    const rect = el.getBoundingClientRect();
    const dpr = el.width / rect.width;
    const face = faceAt(getStore().latestExpression(cameraId), geometry.current.target, (ev.clientX - rect.left) * dpr, (ev.clientY - rect.top) * dpr);
    if (face) onFaceClick(face);
  };

  return (
    <div class="live-view">
      {stream ? <video ref={video} muted playsInline autoPlay aria-hidden="true" /> : null}
      <canvas ref={canvas} role="img" aria-label={label} onClick={click} data-camera={cameraId} />
    </div>
  );
}
