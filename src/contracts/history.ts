/**
 * Expression history (docs/HISTORY.md): what `GET /api/history`, its summary and its export answer, and the query they
 * take. Browser-safe: the SDK and the dashboard share these names with the server.
 */
import { z } from 'zod';
import type { LabelName, ScoresByLabel } from './labels';

/** The resolutions a query may ask for, coarsest last, and their length in ms. */
export const HISTORY_RESOLUTIONS = { '1s': 1_000, '10s': 10_000, '1min': 60_000, '1h': 3_600_000 } as const;
export type HistoryResolution = keyof typeof HISTORY_RESOLUTIONS;

/** A time: ms since the epoch, or an ISO 8601 date-time (`2025-01-31T10:00:00Z`). */
const Time = z.union([
  z.string().regex(/^\d{1,15}$/).transform(Number),
  z
    .string()
    .refine((s) => /^\d{4}-\d\d-\d\d/.test(s) && !Number.isNaN(Date.parse(s)), 'an ISO 8601 date-time or ms since the epoch')
    .transform((s) => Date.parse(s)),
]);
const Id = z.string().min(1).max(64);

/** The query string of every history route (all optional: no camera and no user = every camera). */
export const HistoryQuerySchema = z
  .object({
    cameraId: Id.optional(),
    userId: Id.optional(),
    from: Time.optional(),
    to: Time.optional(),
    resolution: z.enum(Object.keys(HISTORY_RESOLUTIONS) as [HistoryResolution, ...HistoryResolution[]]).optional(),
    format: z.enum(['csv', 'json']).optional(),
  })
  .strict();
export type HistoryQueryInput = z.input<typeof HistoryQuerySchema>;

/** One stored row: one track of one camera over one HISTORY_RESOLUTION_MS interval (what the export lists). */
export interface HistoryRowView {
  /** Interval start, ms since the epoch. */
  ts: number;
  cameraId: string;
  trackId: number;
  userId: string | null;
  /** Argmax of the mean scores. */
  label: LabelName;
  /** Mean score of each label over the frames of the interval. */
  scores: ScoresByLabel;
  /** Most faces seen in one frame of this camera during the interval. */
  faces: number;
  /** Frames averaged. */
  frames: number;
  /** Last box of the track in the interval, source-frame pixels. */
  box: { x: number; y: number; w: number; h: number };
}

/** One bucket of an aggregated query: every stored row whose interval starts in [ts, ts + resolution). */
export interface HistoryBucketView {
  ts: number;
  /** Mean of the rows' mean scores (each track-interval weighs the same). */
  scores: ScoresByLabel;
  /** Argmax of `scores`. */
  label: LabelName;
  /** Stored rows aggregated (track-intervals). */
  rows: number;
  /** Distinct (camera, track) pairs. */
  tracks: number;
  /** Most faces seen in one frame during the bucket. */
  faces: number;
}

export interface HistorySeriesView {
  cameraId: string | null;
  userId: string | null;
  from: number;
  to: number;
  resolution: HistoryResolution;
  buckets: HistoryBucketView[];
}

/** Share of time per label (track-seconds with that dominant label / all track-seconds). */
export interface HistoryShareView {
  cameraId: string | null;
  userId: string | null;
  seconds: number;
  shares: Record<LabelName, number>;
}

export interface HistorySummaryView {
  from: number;
  to: number;
  total: HistoryShareView;
  /** One entry per (camera, user) pair seen in the range. */
  groups: HistoryShareView[];
}

export interface HistoryDeleteView {
  deleted: number;
}
