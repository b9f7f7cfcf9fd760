import { Box } from '../contracts/geometry';
import { iou } from '../inference/yunet.decode';

export interface TrackerOptions {
  /** Minimum IoU for a detection to continue a track. */
  iouThreshold: number;
  /** Processed frames a track survives unmatched before it leaves. */
  graceFrames: number;
}

export interface TrackAssignment {
  /** trackIds in the order of the detections given to update(). */
  trackIds: number[];
  entered: number[];
  left: number[];
}

interface Track {
  id: number;
  box: Box;
  missed: number;
}

const centre = (b: Box): [number, number] => [b.x + b.w / 2, b.y + b.h / 2];

/**
 * Per-camera face tracker: greedy association by IoU, then by centroid distance (a face that moved more than its
 * overlap allows between two processed frames, which happens when latest-wins skipped frames). Ids start at 1 and
 * are never reused within a camera. A track that finds no face for more than `graceFrames` processed frames leaves.
 */
export class FaceTracker {
  private tracks: Track[] = [];
  private nextId = 1;

  constructor(private readonly options: TrackerOptions) {}

  get openTrackIds(): number[] {
    return this.tracks.map((t) => t.id);
  }

  update(boxes: readonly Box[]): TrackAssignment {
    const trackIds = new Array<number>(boxes.length).fill(0);
    const matchedTracks = new Set<Track>();
    const pairs: { t: Track; d: number; iou: number }[] = [];
    for (const t of this.tracks)
      boxes.forEach((b, d) => {
        const v = iou(t.box, b);
        if (v >= this.options.iouThreshold) pairs.push({ t, d, iou: v });
      });
    pairs.sort((a, b) => b.iou - a.iou);
    for (const p of pairs) {
      if (matchedTracks.has(p.t) || trackIds[p.d] !== 0) continue;
      this.continueTrack(p.t, boxes[p.d], matchedTracks);
      trackIds[p.d] = p.t.id;
    }
    // centroid fallback: within half the larger side of the track's box
    const near: { t: Track; d: number; dist: number }[] = [];
    for (const t of this.tracks) {
      if (matchedTracks.has(t)) continue;
      const [tx, ty] = centre(t.box);
      boxes.forEach((b, d) => {
        if (trackIds[d] !== 0) return;
        const [bx, by] = centre(b);
        const dist = Math.hypot(tx - bx, ty - by);
        if (dist <= 0.5 * Math.max(t.box.w, t.box.h)) near.push({ t, d, dist });
      });
    }
    near.sort((a, b) => a.dist - b.dist);
    for (const n of near) {
      if (matchedTracks.has(n.t) || trackIds[n.d] !== 0) continue;
      this.continueTrack(n.t, boxes[n.d], matchedTracks);
      trackIds[n.d] = n.t.id;
    }
    const entered: number[] = [];
    boxes.forEach((b, d) => {
      if (trackIds[d] !== 0) return;
      const t = { id: this.nextId++, box: b, missed: 0 };
      this.tracks.push(t);
      matchedTracks.add(t);
      trackIds[d] = t.id;
      entered.push(t.id);
    });
    const left: number[] = [];
    this.tracks = this.tracks.filter((t) => {
      if (matchedTracks.has(t)) return true;
      t.missed++;
      if (t.missed > this.options.graceFrames) {
        left.push(t.id);
        return false;
      }
      return true;
    });
    return { trackIds, entered, left };
  }

  /** Close every track (camera removed): returns the ids that left. */
  clear(): number[] {
    const ids = this.openTrackIds;
    this.tracks = [];
    return ids;
  }

  private continueTrack(t: Track, box: Box, matched: Set<Track>): void {
    t.box = box;
    t.missed = 0;
    matched.add(t);
  }
}
