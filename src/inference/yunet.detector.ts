import { letterboxInto, LetterboxTransform, toSourceBox, toSourcePoint } from './letterbox';
import type { ModelSession } from './ort.sessions';
import { decodeYunet, Detection } from './yunet.decode';

/** A packed BGR24 image (a Frame satisfies it). */
export interface BgrImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface YunetOptions {
  /** Square letterbox side (multiple of 32). */
  size: number;
  scoreThreshold: number;
  nmsIou: number;
  /** Drop faces whose shorter side is below this many source pixels. */
  minFacePixels: number;
}

/**
 * YuNet on a batch of frames from any cameras: every frame is letterboxed into one [N,3,size,size] tensor and goes
 * through a single session.run (the `_dynamic` export has a batch axis); boxes come back in each frame's own pixels.
 */
export class YunetDetector {
  constructor(
    private readonly session: ModelSession,
    readonly options: YunetOptions,
  ) {}

  async detect(images: readonly BgrImage[]): Promise<Detection[][]> {
    if (images.length === 0) return [];
    const { size } = this.options;
    const plane = 3 * size * size;
    const input = new Float32Array(images.length * plane);
    const transforms: LetterboxTransform[] = images.map((im, i) =>
      letterboxInto(im.data, im.width, im.height, size, input, i * plane),
    );
    const outputs = await this.session.run({ input: { data: input, dims: [images.length, 3, size, size] } });
    return transforms.map((t, b) =>
      decodeYunet(outputs, b, this.options)
        .map((d) => mapToSource(d, t))
        .filter((d) => Math.min(d.box.w, d.box.h) >= this.options.minFacePixels),
    );
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

function mapToSource(d: Detection, t: LetterboxTransform): Detection {
  const landmarks: number[] = [];
  for (let j = 0; j < d.landmarks.length; j += 2) landmarks.push(...toSourcePoint(d.landmarks[j], d.landmarks[j + 1], t));
  return { box: toSourceBox(d.box, t), score: d.score, landmarks };
}
