/**
 * Webhooks: rules that POST a signed JSON body to a URL when a face's expression holds (docs/INTEGRATIONS.md,
 * "Webhooks"). The REST bodies, the views clients see, and the body a receiver gets. The signing secret is shown once,
 * in the answer that creates (or rotates) it, and never in a view.
 */
import { z } from 'zod';
import { LabelSchema, type LabelName } from './labels';

/** Header names of a delivery (HTTP headers are case-insensitive; Node lower-cases them). */
export const WEBHOOK_HEADERS = {
  signature: 'X-IExpressionNet-Signature',
  timestamp: 'X-IExpressionNet-Timestamp',
  delivery: 'X-IExpressionNet-Delivery',
} as const;

const id = z.string().min(1).max(64);
const ms = (max: number) => z.number().int().min(0).max(max);
const DAY_MS = 86_400_000;

const ruleFields = {
  /** http:// or https:// only; no user:password@ (the signature authenticates the server to the receiver). */
  url: z.string().min(1).max(2048),
  /** The rule watches this camera only (at most one of cameraId and userId; neither = every camera). */
  cameraId: id.nullable().optional(),
  /** The rule watches this user's faces only, on any camera. */
  userId: id.nullable().optional(),
  /** The label whose score is compared; unset = the face's dominant label, whichever it is. */
  label: LabelSchema.nullable().optional(),
  /** Score (0..1) the label must reach; default 0.5. */
  minScore: z.number().min(0).max(1).optional(),
  /** How long the score must stay at or above minScore, continuously, before the rule fires; default 0. */
  minDurationMs: ms(DAY_MS).optional(),
  /** After a rule fired, it does not fire again for this long (any face); default 0. */
  cooldownMs: ms(DAY_MS).optional(),
  enabled: z.boolean().optional(),
};

const oneTarget = (r: { cameraId?: string | null; userId?: string | null }) => !(r.cameraId && r.userId);
const ONE_TARGET = { message: 'give at most one of cameraId and userId', path: ['userId'] };

/** POST /api/webhooks. */
export const WebhookInputSchema = z.strictObject(ruleFields).refine(oneTarget, ONE_TARGET);
export type WebhookInput = z.infer<typeof WebhookInputSchema>;

/** PATCH /api/webhooks/:id: any subset of the fields (null clears cameraId, userId or label). */
export const WebhookPatchSchema = z
  // z calls only (no spread, no `ruleFields.url.optional()`): the SDK's bundler drops unused pure z calls, and zod with them
  .strictObject(ruleFields)
  .extend({ url: z.string().min(1).max(2048).optional() })
  .refine(oneTarget, ONE_TARGET)
  .refine((p) => Object.keys(p).length > 0, { message: 'nothing to change' });
export type WebhookPatch = z.infer<typeof WebhookPatchSchema>;

/** A rule as clients see it: everything but the secret. */
export interface WebhookView {
  id: string;
  url: string;
  cameraId: string | null;
  userId: string | null;
  label: LabelName | null;
  minScore: number;
  minDurationMs: number;
  cooldownMs: number;
  enabled: boolean;
  createdAt: number;
}

/** The answer to POST /api/webhooks and POST /api/webhooks/:id/secret: the only time the secret is shown. */
export interface WebhookWithSecret extends WebhookView {
  secret: string;
}

export type WebhookDeliveryStatus = 'pending' | 'retrying' | 'delivered' | 'failed';

/** What happened to one firing of a rule. */
export interface WebhookDeliveryView {
  id: string;
  webhookId: string;
  status: WebhookDeliveryStatus;
  /** HTTP attempts made so far (0 while pending its first). */
  attempts: number;
  /** The receiver's last HTTP status, null when none answered. */
  responseStatus: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
  event: WebhookEventPayload;
}

/** The face and expression that made a rule fire. */
export interface WebhookEventPayload {
  cameraId: string;
  trackId: number;
  userId: string | null;
  label: LabelName;
  score: number;
  /** How long the score had held when the rule fired, ms. */
  durationMs: number;
}

/** The JSON body POSTed to a rule's URL. */
export interface WebhookBody {
  /** The delivery id (also the X-IExpressionNet-Delivery header): the same for every retry of one firing. */
  id: string;
  /** When the rule fired, ms since epoch. */
  ts: number;
  rule: { id: string; cameraId: string | null; userId: string | null; label: LabelName | null; minScore: number; minDurationMs: number };
  event: WebhookEventPayload;
}
