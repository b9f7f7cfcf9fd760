/**
 * "This is …": enrol a face seen live for recognition (WS `face.enrol`, admin). The server enrols from a photo, so
 * the dashboard sends the picture it has of that moment — the camera's latest preview JPEG (or, for this browser's
 * webcam, a snapshot of the local video) — and the centre of the face's box in that picture's pixels, which picks
 * the face when several are in view (docs/IDENTITY.md "Enrolment").
 */
import type { ExpressionEvent, FaceView } from '../../sdk/src';
import type { DashboardStore } from './store';
import { webcam } from './webcam';

export interface LiveFacePicture {
  /** JPEG, base64 (what face.enrol takes). */
  image: string;
  /** Centre of the face, in the picture's pixels. */
  x: number;
  y: number;
}

/** Base64 of binary data without building one huge argument list (String.fromCharCode over chunks). */
function base64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** The picture of `cameraId` now, with the event whose boxes belong to it; throws a message a person can act on. */
export async function livePicture(store: DashboardStore, cameraId: string, trackId: number): Promise<LiveFacePicture> {
  let bytes: Uint8Array;
  let event: ExpressionEvent | undefined;
  if (cameraId === store.webcamCameraId && webcam.running) {
    const blob = await webcam.snapshot();
    if (!blob) throw new Error('The webcam has no picture yet.');
    bytes = new Uint8Array(await blob.arrayBuffer());
    event = store.latestExpression(cameraId);
  } else {
    const preview = store.previews.get(cameraId);
    if (!preview) throw new Error('No picture from this camera yet: wait for its live view.');
    bytes = preview.jpeg;
    event = store.expressionAt(cameraId, preview.ts);
  }
  const face = event?.faces.find((f) => f.trackId === trackId);
  if (!event || !face) throw new Error(`Face #${trackId} is not in the current picture: wait until it is in view.`);
  const bitmap = await createImageBitmap(new Blob([bytes as BlobPart], { type: 'image/jpeg' }));
  // Boxes are in the source frame's pixels (event.width × height); previews are downscaled copies of that frame.
  const sx = bitmap.width / (event.width || bitmap.width);
  const sy = bitmap.height / (event.height || bitmap.height);
  bitmap.close();
  return { image: base64(bytes), x: (face.box.x + face.box.w / 2) * sx, y: (face.box.y + face.box.h / 2) * sy };
}

/** Enrols the face of `trackId` on `cameraId` as `userId`; resolves with the stored face (the server's typed errors
 * — no_face, several_faces, forbidden for a read-only token, not_found — reject as IExpressionError). */
export async function enrolLiveFace(store: DashboardStore, cameraId: string, trackId: number, userId: string): Promise<FaceView> {
  const picture = await livePicture(store, cameraId, trackId);
  const ack = await store.client.command('face.enrol', { userId, ...picture });
  void store.refresh(); // the user's face count
  return ack.face;
}
