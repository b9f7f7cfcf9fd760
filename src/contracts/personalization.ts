/** Users, their personal models and fine-tune jobs, as the REST API and the WebSocket acks show them. */
import type { ErrorCode } from './errors';
import type { LabelName } from './labels';

export interface UserView {
  id: string;
  name: string;
  activeVersion: number | null;
  samples: Partial<Record<LabelName, number>>;
  /** Enrolled faces made by the current face-embedding model: what automatic recognition matches against. */
  faces: number;
  /** true when the user has samples but no face of the current model (samples stored before enrolment existed, or a
   * new embedding model): recognition cannot find them until faces are added (POST /api/users/:id/faces, WS
   * `face.enrol`) or new samples are uploaded; docs/IDENTITY.md "Enrolment". */
  reenrol: boolean;
}

/** One enrolled face (GET /api/users/:id/faces); its embedding and crop stay on the server. */
export interface FaceView {
  id: string;
  userId: string;
  /** sample: taken with a labelled sample; enrol: a face-only enrolment; live: a face seen on a camera ("this is …") */
  source: 'sample' | 'enrol' | 'live';
  sampleId: string | null;
  /** false: made by an older embedding model, not used for recognition (re-enrol) */
  current: boolean;
  createdAt: number;
}

export interface FinetuneMetrics {
  /** Accuracy on the user's held-out samples: general head vs the new personal head. */
  generalAccuracy: number | null;
  personalAccuracy: number | null;
  heldOut: number;
  trainSamples: number;
  replaySamples: number;
  epochs: number;
  seconds: number;
  /**
   * Weight of the personal head when it scores a face: p = blend · personal + (1 − blend) · general (probabilities),
   * chosen by cross-validation over the user's samples (docs/PERSONALIZATION.md, "Never worse than general").
   * Absent on versions stored before the blend existed: 1 (the personal head alone).
   */
  blend?: number;
  /** The cross-validation behind `blend`: held-out faces, and how many each head (and the chosen blend) got right. */
  blendCheck?: { faces: number; general: number; personal: number; blended: number; folds: number };
}

export interface ModelVersionView {
  userId: string;
  version: number;
  createdAt: number;
  active: boolean;
  metrics: FinetuneMetrics;
}

/** GET /api/users/:userId/finetune/:jobId: one fine-tune job, kept in memory by the server that runs it. */
export interface FinetuneJobView {
  id: string;
  userId: string;
  /** queued: accepted, the worker is loading; running: epochs under way; done: stored and active; failed: see error */
  state: 'queued' | 'running' | 'done' | 'failed';
  samples: number;
  /** the last epoch reported (as in the finetune.progress event); null before the first */
  progress: { epoch: number; of: number; loss: number; accuracy: number; etaSeconds: number } | null;
  /** done: the stored version, already the active model */
  result: ModelVersionView | null;
  /** failed: the same code and message as the finetune.failed event (a cancelled job: conflict) */
  error: { code: ErrorCode; message: string } | null;
  /** ms epoch */
  createdAt: number;
  finishedAt: number | null;
}

/**
 * How a calibration round asks for each expression. Several rounds in different ways give a personal model the
 * variety it is later judged on: calibrating on one posing style and meeting the person in others is what makes a
 * personal model worse than the general one (docs/PERSONALIZATION.md, "What does protect P05 and P07").
 * - natural: as the person would show it on their own;
 * - strong: exaggerated, as for a photo;
 * - subtle: slight, barely showing;
 * - turned: head turned a little to one side.
 */
export const CALIBRATION_STYLES = ['natural', 'strong', 'subtle', 'turned'] as const;
export type CalibrationStyle = (typeof CALIBRATION_STYLES)[number];

/** What `calibration.start` answers at once: the plan the session will walk (docs/CALIBRATION.md). */
export interface CalibrationPlanView {
  userId: string;
  cameraId: string;
  labels: LabelName[];
  /** One round per style, in this order; each round walks every label. */
  styles: CalibrationStyle[];
  secondsPerLabel: number;
  /** Per label and round. */
  framesPerLabel: number;
}
