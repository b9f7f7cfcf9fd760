import type { WebhookDeliveryView, WebhookWithSecret } from '../../contracts/webhooks';

/**
 * A stored webhook rule: the rule as the API shows it at creation, secret included (the secret signs its deliveries,
 * HMAC-SHA256, and is never shown after creation/rotation). One definition: the contract's.
 */
export type WebhookRecord = WebhookWithSecret;

/** One firing of a rule and what became of it, as stored: the view's fields, `event` as the payload's JSON text. */
export type WebhookDeliveryRecord = Omit<WebhookDeliveryView, 'event'> & { event: string };

/**
 * Port (and Nest token) for webhook rules and their delivery log; StorageModule binds it to SqliteWebhookRepository.
 * Deleting a rule deletes its log (ON DELETE CASCADE). Synchronous, like the other ports on the one SQLite connection.
 */
export abstract class WebhookRepository {
  abstract insert(r: WebhookRecord): void;
  abstract get(id: string): WebhookRecord | undefined;
  /** Oldest first (created_at, then id). */
  abstract list(): WebhookRecord[];
  /** The updated rule, or undefined when there is none with this id. */
  abstract update(id: string, patch: Partial<Omit<WebhookRecord, 'id' | 'createdAt'>>): WebhookRecord | undefined;
  /** true when a rule was deleted (with its delivery log). */
  abstract delete(id: string): boolean;
  /**
   * Inserts or replaces each delivery (by id; a delivery of a rule that no longer exists is skipped), then keeps only
   * the newest `keep` deliveries of each rule concerned. One transaction for the whole batch: the dispatcher writes its
   * log behind, in batches, so a flood of firings costs one commit (one fsync) per batch, not two per delivery.
   */
  abstract saveDeliveries(deliveries: readonly WebhookDeliveryRecord[], keep: number): void;
  /** A rule's deliveries, newest first. */
  abstract deliveries(webhookId: string, limit: number): WebhookDeliveryRecord[];
}
