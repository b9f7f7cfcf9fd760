import type { ExpressionEvent, FaceResult } from '../../sdk/src';

import { LABEL_COLORS } from './labels';

export { LABEL_COLORS, LABEL_EMOJI } from './labels';

/**
 * Who a face is, for captions: the user's name or "unknown", then in brackets "personal" when their personal head
 * scored it and where the identity came from (face = recognised, camera = the camera's bound user, track = assigned by
 * command; absent when the server runs with IDENTITY=off). "Ada (personal, face)", "Ada (camera)", "unknown".
 */
export function faceWho(face: Pick<FaceResult, 'userId' | 'personalized' | 'identity'>, userName: string | null): string {
  if (!face.userId) return 'unknown';
  const notes = [face.personalized ? 'personal' : null, face.identity?.source ?? null].filter(Boolean);
  return `${userName ?? face.userId}${notes.length ? ` (${notes.join(', ')})` : ''}`;
}

export function faceCaption(face: FaceResult, userName: string | null): string {
  const score = Math.round((face.scores[face.label] ?? 0) * 100);
  return `${face.label} ${score}% · ${faceWho(face, userName)}`;
}

/**
 * Draws face boxes with captions onto a canvas that covers the displayed media. `scale` maps source-frame pixels
 * (the event's width × height) to canvas pixels.
 */
export function drawFaces(
  ctx: CanvasRenderingContext2D,
  event: ExpressionEvent,
  target: { x: number; y: number; width: number; height: number },
  userName: (id: string | null) => string | null,
  highlightTrack?: number | null,
): void {
  const sx = target.width / (event.width || target.width);
  const sy = target.height / (event.height || target.height);
  const dpr = ctx.canvas.width / Math.max(1, ctx.canvas.clientWidth || ctx.canvas.width);
  const font = Math.max(11, Math.round(13 * dpr));
  ctx.font = `600 ${font}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  for (const face of event.faces) {
    const x = target.x + face.box.x * sx;
    const y = target.y + face.box.y * sy;
    const w = face.box.w * sx;
    const h = face.box.h * sy;
    const color = LABEL_COLORS[face.label];
    ctx.lineWidth = (highlightTrack === face.trackId ? 4 : 2.5) * dpr;
    ctx.strokeStyle = color;
    ctx.strokeRect(x, y, w, h);
    const caption = `#${face.trackId} ${faceCaption(face, userName(face.userId))}`;
    const pad = 4 * dpr;
    const tw = ctx.measureText(caption).width + pad * 2;
    const th = font + pad * 2;
    const ty = y - th >= 0 ? y - th : y + h;
    ctx.fillStyle = 'rgba(17,17,23,0.82)';
    ctx.fillRect(x, ty, tw, th);
    ctx.fillStyle = color;
    ctx.fillRect(x, ty, 4 * dpr, th);
    ctx.fillStyle = '#fff';
    ctx.fillText(caption, x + pad + 2 * dpr, ty + pad);
  }
}

/** The face whose box contains a click at (px, py) in canvas pixels. */
export function faceAt(
  event: ExpressionEvent | undefined,
  target: { x: number; y: number; width: number; height: number },
  px: number,
  py: number,
): FaceResult | null {
  if (!event) return null;
  const sx = target.width / (event.width || target.width);
  const sy = target.height / (event.height || target.height);
  for (const face of event.faces) {
    const x = target.x + face.box.x * sx;
    const y = target.y + face.box.y * sy;
    if (px >= x && px <= x + face.box.w * sx && py >= y && py <= y + face.box.h * sy) return face;
  }
  return null;
}

/** Makes the canvas' backing store match its CSS size × devicePixelRatio; returns true when it changed. */
export function fitCanvas(canvas: HTMLCanvasElement): boolean {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(canvas.clientWidth * dpr);
  const h = Math.round(canvas.clientHeight * dpr);
  if (canvas.width === w && canvas.height === h) return false;
  canvas.width = w;
  canvas.height = h;
  return true;
}
