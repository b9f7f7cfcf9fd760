/** The expression labels, in the model's output order (FER-2013): the classifier's output index i is LABEL_NAMES[i]. */
import { z } from 'zod';

export const LABEL_NAMES = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;
export const LabelSchema = z.enum(LABEL_NAMES);
export type LabelName = (typeof LABEL_NAMES)[number];
/** One probability per label. */
export type ScoresByLabel = Record<LabelName, number>;
