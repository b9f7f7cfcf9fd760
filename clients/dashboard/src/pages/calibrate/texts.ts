/** The calibration wizard's words: why a sample was rejected, what to do for each label, and percentages. */
import type { CalibrationStyle, LabelName } from '../../../../sdk/src';

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

/** How each round asks (the server's `styles`; docs/CALIBRATION.md). */
export const STYLE_TEXT: Record<CalibrationStyle, string> = {
  natural: 'the way you would on your own',
  strong: 'stronger — exaggerate it, as for a photo',
  subtle: 'subtle — only just showing',
  turned: 'with your head turned a little to one side',
};

/** The wizard's choice of rounds: each adds the next way of showing every expression. */
export const ROUND_CHOICES: { styles: CalibrationStyle[]; text: string }[] = [
  { styles: ['natural'], text: '1 round: natural' },
  { styles: ['natural', 'strong'], text: '2 rounds: natural, strong' },
  { styles: ['natural', 'strong', 'subtle'], text: '3 rounds: natural, strong, subtle' },
  { styles: ['natural', 'strong', 'subtle', 'turned'], text: '4 rounds: + head turned' },
];

export function pct(x: number | null | undefined): string {
  return x === null || x === undefined ? '–' : `${Math.round(x * 100)}%`;
}
