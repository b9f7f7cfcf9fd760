/**
 * Levels the eyes of 48x48 FER-2013-style faces (issue 17, "aligned faces"), one way for every script that needs it:
 * scripts/align-fer.ts writes a levelled copy of a training set with it, and `npm run evaluate` levels a test set in
 * memory for a model trained on such faces (so a test split is scored as that model's training faces were cut).
 *
 * Each face is enlarged onto a mid-gray canvas (scripts/fer-canvas.ts), the pipeline's YuNet finds it, and the face is
 * rotated about its centre by the eye angle (src/inference/level-eyes.ts, the function the live crop uses). On 48 px
 * faces YuNet's landmarks read back only ~40% of a tilt, so with passes > 1 every further pass reads what is left on
 * the face turned by the sum so far (always turned from the original, so passes do not blur it again). A face not
 * found on the first pass, or whose summed turn is beyond MAX_LEVEL_DEGREES (more likely wrong landmarks than a head
 * turned that far), is kept unrotated.
 */
import { resolve } from 'node:path';
import { eyeAngle, MAX_LEVEL_DEGREES, rotatedSquare } from '../src/inference/level-eyes';
import { MAX_LEVEL_PASSES } from '../src/inference/model-crop';
import { OrtSessionFactory } from '../src/inference/ort.sessions';
import { INPUT_SIZE } from '../src/inference/preprocess';
import { YunetDetector } from '../src/inference/yunet.detector';
import { FER_CANVAS, ferCanvas } from './fer-canvas';

const CENTRE = { cx: INPUT_SIZE / 2, cy: INPUT_SIZE / 2, side: INPUT_SIZE };
const MAX_RAD = (MAX_LEVEL_DEGREES * Math.PI) / 180;
const DETECTOR = resolve(__dirname, '../models/face-detection/yunet_s_dynamic.onnx');

/** What levelling did to one face. Angles in radians. */
export interface LevelledFace {
  face: Uint8Array;
  /** The first pass's eye angle; null when the face was not found. */
  firstRead: number | null;
  /** The summed turn over all passes; null when the face was not found on the first pass. */
  turn: number | null;
  /** The face was rotated by `turn` (found, and within MAX_LEVEL_DEGREES). */
  rotated: boolean;
}

export class FerLeveller {
  private constructor(
    private readonly detector: YunetDetector,
    readonly passes: number,
  ) {}

  static async open(passes: number, threads = 2): Promise<FerLeveller> {
    if (!Number.isInteger(passes) || passes < 1 || passes > MAX_LEVEL_PASSES) throw new RangeError(`passes must be an integer 1..${MAX_LEVEL_PASSES}, got ${passes}`);
    const factory = new OrtSessionFactory({ EXECUTION_PROVIDER: 'cpu', ORT_THREADS: threads });
    const detector = new YunetDetector(await factory.create(DETECTOR), { size: FER_CANVAS, scoreThreshold: 0.5, nmsIou: 0.3, minFacePixels: 24 });
    return new FerLeveller(detector, passes);
  }

  /** Levels one batch of 48x48 gray faces (one detector run per pass: callers choose the batch size). */
  async level(faces: Uint8Array[]): Promise<LevelledFace[]> {
    const first: (number | null)[] = faces.map(() => null);
    const total: (number | null)[] = faces.map(() => null);
    for (let p = 0; p < this.passes; p++) {
      const todo = faces.flatMap((_, j) => (p === 0 || total[j] !== null ? [j] : []));
      const views = todo.map((j) => (p === 0 ? faces[j] : rotatedSquare(faces[j], INPUT_SIZE, INPUT_SIZE, CENTRE, total[j]!, INPUT_SIZE)));
      const canvases = await Promise.all(views.map(ferCanvas));
      const found = await this.detector.detect(canvases.map((c) => ({ data: c, width: FER_CANVAS, height: FER_CANVAS })));
      todo.forEach((j, k) => {
        const best = found[k].reduce<(typeof found)[number][number] | undefined>((a, b) => (!a || b.score > a.score ? b : a), undefined);
        if (!best) return; // a later pass that loses the face keeps what the earlier ones read
        const read = eyeAngle(best.landmarks);
        if (p === 0) first[j] = read;
        total[j] = (total[j] ?? 0) + read;
      });
    }
    return faces.map((face, j) => {
      const turn = total[j];
      const rotated = turn !== null && Math.abs(turn) <= MAX_RAD;
      return { face: rotated ? rotatedSquare(face, INPUT_SIZE, INPUT_SIZE, CENTRE, turn, INPUT_SIZE) : face, firstRead: first[j], turn, rotated };
    });
  }

  release(): Promise<void> {
    return this.detector.release();
  }
}

/** How many faces levelling found, rotated and left alone, in a report's words (align-report.json, evaluate --json). */
export function levellingCounts(outcomes: Omit<LevelledFace, 'face'>[]): { faces: number; levelled: number; withoutFace: number; leftUnrotated: number } {
  const levelled = outcomes.filter((o) => o.rotated).length;
  const withoutFace = outcomes.filter((o) => o.turn === null).length;
  return { faces: outcomes.length, levelled, withoutFace, leftUnrotated: outcomes.length - levelled - withoutFace };
}
