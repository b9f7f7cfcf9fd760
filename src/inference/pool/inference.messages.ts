import type { Config } from '../../config';
import type { AnalyzedFace, AnalyzeRequest } from '../inference.types';
import type { Detection } from '../yunet.decode';
import type { YunetOptions } from '../yunet.detector';

/**
 * workerData of an inference worker: which models to load, and how. The pool's workers load the detector and the
 * trunk (detect, analyze, features); live recognition's embedding worker loads only the face-embedding model (embed).
 * A request for a model the worker did not load is answered with an error naming it.
 */
export interface InferenceWorkerInit {
  session: Pick<Config, 'EXECUTION_PROVIDER' | 'ORT_THREADS' | 'ORT_SPIN'>;
  detectorPath?: string;
  trunkPath?: string;
  detector?: YunetOptions;
  /** The face-embedding model (IDENTITY=face): loaded at start, serves `embed`. */
  embedderPath?: string;
}

/** Frames packed one after another in `buffer` (transferred, not copied, to the worker). */
export interface PackedFrame {
  offset: number;
  length: number;
  width: number;
  height: number;
}

export type ToInferenceWorker =
  | { type: 'detect'; id: number; buffer: ArrayBuffer; frames: PackedFrame[] }
  /** detect + crop + (request.features) trunk, in one call: answered with `analysis`. */
  | { type: 'analyze'; id: number; buffer: ArrayBuffer; frames: PackedFrame[]; request: AnalyzeRequest }
  /** `count` 48x48 uint8 faces, back to back in `buffer`. */
  | { type: 'features'; id: number; buffer: ArrayBuffer; count: number }
  /** Aligned 150x150 RGB views back to back in `buffer`, `views[i]` of them for face i: one embedding per face. */
  | { type: 'embed'; id: number; buffer: ArrayBuffer; views: number[] }
  /** Finish the requests already sent, release the sessions, exit. (Terminating a worker inside session.run aborts the
   * whole process: the native call returns into a dying environment.) */
  | { type: 'close' };

export type FromInferenceWorker =
  | { type: 'ready' }
  /** The worker could not start (model missing, execution provider unavailable); `name` is the error's class. */
  | { type: 'fatal'; name: string; message: string }
  | { type: 'detections'; id: number; detections: Detection[][] }
  | { type: 'features'; id: number; features: Float32Array }
  /** 128 values per face, in the order of the request's faces. */
  | { type: 'embeddings'; id: number; embeddings: Float32Array }
  /** Faces per frame without their features; `features` holds 2048 per face in the same order (empty if not asked). */
  | { type: 'analysis'; id: number; faces: Omit<AnalyzedFace, 'features'>[][]; features: Float32Array }
  | { type: 'error'; id: number; message: string };
