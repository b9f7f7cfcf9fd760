/** The calibration wizard's words: why a sample was rejected, what to do for each label, and percentages. */
import type { LabelName } from '../../../../sdk/src';

export const REJECTION_TEXT: Record<string, string> = {
  blurred: 'too blurred — hold still',
  too_small: 'face too small — come closer',
  duplicate: 'same as the last one — vary a little',
  no_face: 'no face found',
  several_faces: 'several faces — only you in view, please',
};

export const PROMPT_TEXT: Record<LabelName, string> = {
  angry: 'Look angry',
  disgust: 'Look disgusted',
  fear: 'Look afraid',
  happy: 'Smile — look happy',
  sad: 'Look sad',
  surprise: 'Look surprised',
  neutral: 'Relax — a neutral face',
};

export function pct(x: number | null | undefined): string {
  return x === null || x === undefined ? '–' : `${Math.round(x * 100)}%`;
}
