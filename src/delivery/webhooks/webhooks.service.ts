import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CodedError } from '../../contracts/errors';
import type { WebhookDeliveryView, WebhookInput, WebhookPatch, WebhookView, WebhookWithSecret } from '../../contracts/webhooks';
import { WebhookRecord, WebhookRepository } from '../../storage/ports/webhook.repository';
import { CameraAccess } from '../camera-access';
import { USER_DIRECTORY, type UserDirectoryApi } from '../delivery.tokens';
import { WebhookDispatcher } from './webhook.dispatcher';
import { newWebhookSecret } from './webhook-signature';

const DEFAULTS = { minScore: 0.5, minDurationMs: 0, cooldownMs: 0 };

/** Everything but the secret. */
export function webhookView(r: WebhookRecord): WebhookView {
  return {
    id: r.id,
    url: r.url,
    cameraId: r.cameraId,
    userId: r.userId,
    label: r.label,
    minScore: r.minScore,
    minDurationMs: r.minDurationMs,
    cooldownMs: r.cooldownMs,
    enabled: r.enabled,
    createdAt: r.createdAt,
  };
}

/**
 * Webhook rules over REST: validated (URL through the destination policy, camera and user must exist), stored behind
 * WebhookRepository, and handed to the dispatcher after each change. The secret is made here and returned only by
 * create() and rotateSecret().
 */
@Injectable()
export class WebhooksService {
  constructor(
    @Inject(WebhookRepository) private readonly repo: WebhookRepository,
    @Inject(WebhookDispatcher) private readonly dispatcher: WebhookDispatcher,
    @Inject(CameraAccess) private readonly cameras: CameraAccess,
    @Inject(USER_DIRECTORY) private readonly users: UserDirectoryApi,
  ) {}

  async create(input: WebhookInput): Promise<WebhookWithSecret> {
    await this.checkTargets(input);
    const record: WebhookRecord = {
      id: randomUUID(),
      url: input.url,
      cameraId: input.cameraId ?? null,
      userId: input.userId ?? null,
      label: input.label ?? null,
      minScore: input.minScore ?? DEFAULTS.minScore,
      minDurationMs: input.minDurationMs ?? DEFAULTS.minDurationMs,
      cooldownMs: input.cooldownMs ?? DEFAULTS.cooldownMs,
      secret: newWebhookSecret(),
      enabled: input.enabled ?? true,
      createdAt: Date.now(),
    };
    this.repo.insert(record);
    this.dispatcher.reload();
    return { ...webhookView(record), secret: record.secret };
  }

  list(): WebhookView[] {
    return this.repo.list().map(webhookView);
  }

  get(id: string): WebhookView {
    return webhookView(this.require(id));
  }

  async update(id: string, patch: WebhookPatch): Promise<WebhookView> {
    const current = this.require(id);
    const merged = { cameraId: current.cameraId, userId: current.userId, ...patch };
    if (merged.cameraId && merged.userId) throw new CodedError('bad_message', 'userId: give at most one of cameraId and userId');
    await this.checkTargets(patch);
    const updated = this.repo.update(id, patch);
    if (!updated) throw new CodedError('not_found', `no webhook "${id}"`);
    this.dispatcher.reload();
    return webhookView(updated);
  }

  remove(id: string): void {
    if (!this.repo.delete(id)) throw new CodedError('not_found', `no webhook "${id}"`);
    this.dispatcher.reload();
  }

  /** A new secret; the old one stops signing at once (deliveries being retried are signed with the new one). */
  rotateSecret(id: string): WebhookWithSecret {
    this.require(id);
    const updated = this.repo.update(id, { secret: newWebhookSecret() })!;
    this.dispatcher.reload(); // the dispatcher signs with its copy of the rule
    return { ...webhookView(updated), secret: updated.secret };
  }

  deliveries(id: string, limit: number): WebhookDeliveryView[] {
    this.require(id);
    this.dispatcher.flushLog(); // the log is written behind, in batches: the reader sees every change made so far
    return this.repo.deliveries(id, limit).map((d) => ({
      id: d.id,
      webhookId: d.webhookId,
      status: d.status,
      attempts: d.attempts,
      responseStatus: d.responseStatus,
      lastError: d.lastError,
      createdAt: d.createdAt,
      updatedAt: d.updatedAt,
      event: JSON.parse(d.event) as WebhookDeliveryView['event'],
    }));
  }

  private require(id: string): WebhookRecord {
    const r = this.repo.get(id);
    if (!r) throw new CodedError('not_found', `no webhook "${id}"`);
    return r;
  }

  /** URL (policy), camera and user, whichever the input names: 400 invalid_url / destination_forbidden, 404 not_found. */
  private async checkTargets(input: { url?: string; cameraId?: string | null; userId?: string | null }): Promise<void> {
    if (input.url !== undefined) await this.dispatcher.checkUrl(input.url);
    if (input.cameraId) await this.cameras.get(input.cameraId);
    if (input.userId) this.users.requireUser(input.userId);
  }
}
