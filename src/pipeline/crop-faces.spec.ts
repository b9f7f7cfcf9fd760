import { firstValueFrom, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { cropFace, DEFAULT_CROP } from '../inference/face-crop';
import { cropFaces } from './crop-faces';
import type { FrameWork } from './pipeline.types';

/** One 320x240 frame with a gradient (so a turned crop differs) and one face whose eyes tilt by ~14 degrees. */
function batch(): FrameWork[] {
  const data = Buffer.alloc(320 * 240 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + Math.floor(i / 960)) & 255;
  const detection = { box: { x: 100, y: 60, w: 100, h: 120 }, score: 0.9, landmarks: [130, 95, 170, 105, 150, 120, 135, 140, 165, 140] };
  return [{ frame: { cameraId: 'cam', frameId: 0, ts: 0, width: 320, height: 240, data }, faces: [{ detection, trackId: 1, userId: null, personalized: false }], entered: [], left: [] }];
}

describe('cropFaces', () => {
  it('cuts each face with the rule it is given, landmarks included: levelled for a levelled model, plain otherwise', async () => {
    const levelled = { ...DEFAULT_CROP, levelEyes: true };
    const [a] = await firstValueFrom(of(batch()).pipe(cropFaces({ rule: levelled })));
    const [b] = await firstValueFrom(of(batch()).pipe(cropFaces({ rule: DEFAULT_CROP })));
    const { frame, faces } = batch()[0];
    expect(a.faces[0].crop48).toEqual(cropFace(frame, faces[0].detection.box, levelled, 0, faces[0].detection.landmarks).crop48);
    expect(b.faces[0].crop48).toEqual(cropFace(frame, faces[0].detection.box).crop48);
    expect(a.faces[0].crop48).not.toEqual(b.faces[0].crop48);
  });
});
