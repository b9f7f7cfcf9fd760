import type { ExpressionEvent } from '../contracts/events';
import { LABEL_NAMES, type LabelName, type ScoresByLabel } from '../contracts/labels';
import type { HistoryRecord } from '../storage/ports/history.repository';

interface Accumulator {
  ts: number;
  cameraId: string;
  trackId: number;
  userId: string | null;
  sums: Float64Array;
  frames: number;
  faces: number;
  box: { x: number; y: number; w: number; h: number };
}

/**
 * Frames → one row per track per interval (pure: no I/O, no clock). An interval closes when the track shows up in a
 * later interval, leaves, its camera goes away, or `closeBefore` says its time is over (a track that vanished).
 * Closed rows wait in `pending` (bounded: beyond `maxPending` a new row is dropped and counted) until `take()`.
 */
export class HistoryAggregator {
  private readonly open = new Map<string, Accumulator>();
  /** Per track, the start of its last written interval: a frame for it or an earlier one arrives too late. */
  private readonly written = new Map<string, number>();
  private pending: HistoryRecord[] = [];
  dropped = 0;

  constructor(private readonly options: { resolutionMs: number; maxPending: number }) {}

  add(event: ExpressionEvent): void {
    const ts = Math.floor(event.ts / this.options.resolutionMs) * this.options.resolutionMs;
    const faces = event.faces.length;
    for (const face of event.faces) {
      const key = `${event.cameraId}\u0000${face.trackId}`;
      let acc = this.open.get(key);
      if (acc && acc.ts !== ts) {
        if (ts < acc.ts) continue; // a late frame of an interval already closed: not worth reopening it
        this.close(key, acc);
        acc = undefined;
      }
      if (!acc && ts <= (this.written.get(key) ?? -Infinity)) continue; // that interval's row is already out
      if (!acc) {
        acc = { ts, cameraId: event.cameraId, trackId: face.trackId, userId: null, sums: new Float64Array(LABEL_NAMES.length), frames: 0, faces: 0, box: face.box };
        this.open.set(key, acc);
      }
      for (let i = 0; i < LABEL_NAMES.length; i++) acc.sums[i] += face.scores[LABEL_NAMES[i]];
      acc.frames++;
      acc.faces = Math.max(acc.faces, faces);
      acc.box = face.box;
      // identity can resolve mid-interval: the latest answer wins
      acc.userId = face.userId;
    }
  }

  /** The track left: its interval is complete. */
  closeTrack(cameraId: string, trackId: number): void {
    const key = `${cameraId}\u0000${trackId}`;
    const acc = this.open.get(key);
    if (acc) this.close(key, acc);
    this.written.delete(key);
  }

  closeCamera(cameraId: string): void {
    for (const [key, acc] of this.open) if (acc.cameraId === cameraId) this.close(key, acc);
    for (const key of this.written.keys()) if (key.startsWith(`${cameraId}\u0000`)) this.written.delete(key);
  }

  /** Closes every interval that ended at or before `ts` (call with now minus a grace for late frames). */
  closeBefore(ts: number): void {
    for (const [key, acc] of this.open) if (acc.ts + this.options.resolutionMs <= ts) this.close(key, acc);
    // tracks gone without a face.leave (camera stopped): forget them after a minute
    for (const [key, last] of this.written) if (last < ts - 60_000) this.written.delete(key);
  }

  closeAll(): void {
    for (const [key, acc] of this.open) this.close(key, acc);
  }

  /** Privacy: forget a deleted user's rows, open and pending. */
  forgetUser(userId: string): void {
    for (const [key, acc] of this.open) if (acc.userId === userId) this.open.delete(key);
    this.pending = this.pending.filter((r) => r.userId !== userId);
  }

  /** The closed rows, oldest first; the aggregator forgets them. */
  take(): HistoryRecord[] {
    const rows = this.pending;
    this.pending = [];
    return rows;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  get openCount(): number {
    return this.open.size;
  }

  private close(key: string, acc: Accumulator): void {
    this.open.delete(key);
    this.written.set(key, acc.ts);
    if (this.pending.length >= this.options.maxPending) {
      this.dropped++;
      return;
    }
    const scores = {} as ScoresByLabel;
    let label: LabelName = LABEL_NAMES[0];
    for (let i = 0; i < LABEL_NAMES.length; i++) {
      scores[LABEL_NAMES[i]] = acc.sums[i] / acc.frames;
      if (scores[LABEL_NAMES[i]] > scores[label]) label = LABEL_NAMES[i];
    }
    this.pending.push({
      ts: acc.ts,
      cameraId: acc.cameraId,
      trackId: acc.trackId,
      userId: acc.userId,
      label,
      scores,
      faces: acc.faces,
      frames: acc.frames,
      box: { ...acc.box },
    });
  }
}
