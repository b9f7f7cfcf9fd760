import type { LabelName } from '../../sdk/src';

/** One colour per expression, always paired with the label text (colour is never the only cue). */
export const LABEL_COLORS: Record<LabelName, string> = {
  angry: '#e5484d',
  disgust: '#8e4ec6',
  fear: '#f5a524',
  happy: '#30a46c',
  sad: '#3e63dd',
  surprise: '#e54666',
  neutral: '#8b8d98',
};

export const LABEL_EMOJI: Record<LabelName, string> = {
  angry: '😠',
  disgust: '😖',
  fear: '😨',
  happy: '😄',
  sad: '😢',
  surprise: '😮',
  neutral: '😐',
};
