import { Inject, Injectable } from '@nestjs/common';
import type { Statement } from 'better-sqlite3';
import type { LabelName } from '../../contracts/labels';
import type { WebhookDeliveryStatus } from '../../contracts/webhooks';
import { SqliteDatabase } from '../database';
import { WebhookDeliveryRecord, WebhookRecord, WebhookRepository } from '../ports/webhook.repository';

interface Row {
  id: string;
  url: string;
  camera_id: string | null;
  user_id: string | null;
  label: LabelName | null;
  min_score: number;
  min_duration_ms: number;
  cooldown_ms: number;
  secret: string;
  enabled: number;
  created_at: number;
}

interface DeliveryRow {
  id: string;
  webhook_id: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  response_status: number | null;
  last_error: string | null;
  event: string;
  created_at: number;
  updated_at: number;
}

const toRecord = (r: Row): WebhookRecord => ({
  id: r.id,
  url: r.url,
  cameraId: r.camera_id,
  userId: r.user_id,
  label: r.label,
  minScore: r.min_score,
  minDurationMs: r.min_duration_ms,
  cooldownMs: r.cooldown_ms,
  secret: r.secret,
  enabled: r.enabled === 1,
  createdAt: r.created_at,
});

const toDelivery = (r: DeliveryRow): WebhookDeliveryRecord => ({
  id: r.id,
  webhookId: r.webhook_id,
  status: r.status,
  attempts: r.attempts,
  responseStatus: r.response_status,
  lastError: r.last_error,
  event: r.event,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const COLUMNS: Record<keyof Omit<WebhookRecord, 'id' | 'createdAt'>, string> = {
  url: 'url',
  cameraId: 'camera_id',
  userId: 'user_id',
  label: 'label',
  minScore: 'min_score',
  minDurationMs: 'min_duration_ms',
  cooldownMs: 'cooldown_ms',
  secret: 'secret',
  enabled: 'enabled',
};

/**
 * The `webhooks` and `webhook_deliveries` tables (migration 2). The statements the dispatcher runs at the rate of
 * firings are prepared once (better-sqlite3's `prepare` parses the SQL each time: it was a tenth of the cost of a
 * delivery log write).
 */
@Injectable()
export class SqliteWebhookRepository implements WebhookRepository {
  private readonly upsertDelivery: Statement;
  private readonly trimDeliveries: Statement;
  private readonly selectOne: Statement;

  constructor(@Inject(SqliteDatabase) private readonly database: SqliteDatabase) {
    const db = database.db;
    this.upsertDelivery = db.prepare(
      `INSERT INTO webhook_deliveries (id, webhook_id, status, attempts, response_status, last_error, event, created_at, updated_at)
       SELECT @id, @webhookId, @status, @attempts, @responseStatus, @lastError, @event, @createdAt, @updatedAt
       WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = @webhookId)
       ON CONFLICT(id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
         response_status = excluded.response_status, last_error = excluded.last_error, updated_at = excluded.updated_at`,
    );
    this.trimDeliveries = db.prepare(
      `DELETE FROM webhook_deliveries WHERE webhook_id = @webhookId AND id NOT IN
         (SELECT id FROM webhook_deliveries WHERE webhook_id = @webhookId ORDER BY created_at DESC, rowid DESC LIMIT @keep)`,
    );
    this.selectOne = db.prepare('SELECT * FROM webhooks WHERE id = ?');
  }

  insert(r: WebhookRecord): void {
    this.database.db
      .prepare(
        `INSERT INTO webhooks (id, url, camera_id, user_id, label, min_score, min_duration_ms, cooldown_ms, secret, enabled, created_at)
         VALUES (@id, @url, @cameraId, @userId, @label, @minScore, @minDurationMs, @cooldownMs, @secret, @enabled, @createdAt)`,
      )
      .run({ ...r, enabled: r.enabled ? 1 : 0 });
  }

  get(id: string): WebhookRecord | undefined {
    const row = this.selectOne.get(id) as Row | undefined;
    return row && toRecord(row);
  }

  list(): WebhookRecord[] {
    return (this.database.db.prepare('SELECT * FROM webhooks ORDER BY created_at, id').all() as Row[]).map(toRecord);
  }

  update(id: string, patch: Partial<Omit<WebhookRecord, 'id' | 'createdAt'>>): WebhookRecord | undefined {
    const keys = (Object.keys(patch) as (keyof typeof COLUMNS)[]).filter((k) => k in COLUMNS && patch[k] !== undefined);
    if (keys.length > 0) {
      const values = Object.fromEntries(keys.map((k) => [k, k === 'enabled' ? (patch.enabled ? 1 : 0) : patch[k]]));
      this.database.db.prepare(`UPDATE webhooks SET ${keys.map((k) => `${COLUMNS[k]} = @${k}`).join(', ')} WHERE id = @id`).run({ ...values, id });
    }
    return this.get(id);
  }

  delete(id: string): boolean {
    return this.database.db.prepare('DELETE FROM webhooks WHERE id = ?').run(id).changes > 0;
  }

  saveDeliveries(deliveries: readonly WebhookDeliveryRecord[], keep: number): void {
    if (deliveries.length === 0) return;
    // written behind in batches, the queue itself memory only: not worth an fsync on the event loop
    this.database.withoutFsync(() =>
      this.database.db.transaction(() => {
        const rules = new Set<string>();
        for (const d of deliveries) if (this.upsertDelivery.run(d).changes > 0) rules.add(d.webhookId); // 0: the rule is gone
        for (const webhookId of rules) this.trimDeliveries.run({ webhookId, keep });
      })(),
    );
  }

  deliveries(webhookId: string, limit: number): WebhookDeliveryRecord[] {
    return (
      this.database.db
        .prepare('SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?')
        .all(webhookId, limit) as DeliveryRow[]
    ).map(toDelivery);
  }
}
