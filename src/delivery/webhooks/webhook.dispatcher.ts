import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Counter, Gauge } from 'prom-client';
import { Subscription } from 'rxjs';
import { CONFIG, Config } from '../../config';
import { CodedError } from '../../contracts/errors';
import { ReplicatedChanges } from '../../contracts/ports/replicated-changes';
import { WEBHOOK_HEADERS, type WebhookBody, type WebhookDeliveryStatus } from '../../contracts/webhooks';
import { EventBus } from '../../events/event-bus';
import { DestinationForbiddenError, DestinationPolicy, HOST_RESOLVER, type HostResolver, urlHost } from '../../ingest/destination-policy';
import { WebhookDeliveryRecord, WebhookRecord, WebhookRepository } from '../../storage/ports/webhook.repository';
import { DeliveryMetrics } from '../delivery.metrics';
import { Firing, WebhookRuleEngine } from './webhook-rules';
import { Cancellation, postOnce, WebhookAttemptError, WebhookConnections } from './webhook.sender';
import { signWebhook } from './webhook-signature';

/** Webhook counters, in delivery's registry (so /metrics shows them). Labels are bounded enums, never URLs or ids. */
@Injectable()
export class WebhookMetrics {
  readonly firings: Counter<string>;
  readonly attempts: Counter<'result'>;
  readonly outcomes: Counter<'outcome'>;
  readonly dropped: Counter<'reason'>;
  readonly queued: Gauge<string>;

  constructor(@Inject(DeliveryMetrics) delivery: DeliveryMetrics) {
    const registers = [delivery.registry];
    this.firings = new Counter({ name: 'iexpr_webhook_firings_total', help: 'Webhook rules that fired (one per matching episode)', registers });
    this.attempts = new Counter({
      name: 'iexpr_webhook_attempts_total',
      help: 'Webhook HTTP attempts by result: ok, http_error, network (incl. timeout), forbidden (destination policy)',
      labelNames: ['result'],
      registers,
    });
    this.outcomes = new Counter({
      name: 'iexpr_webhook_deliveries_total',
      help: 'Webhook deliveries finished, by outcome (delivered, failed)',
      labelNames: ['outcome'],
      registers,
    });
    this.dropped = new Counter({
      name: 'iexpr_webhook_dropped_total',
      help: 'Webhook firings dropped: WEBHOOK_QUEUE_MAX deliveries were already waiting, in flight or between retries',
      labelNames: ['reason'],
      registers,
    });
    this.queued = new Gauge({ name: 'iexpr_webhook_queue', help: 'Webhook deliveries waiting, in flight or between retries', registers });
  }
}

interface Job {
  /** The delivery's log row; changed in place as attempts go (the log buffer holds this object until its next write). */
  record: WebhookDeliveryRecord;
  /** The JSON body, serialised once: every attempt sends these bytes (only the timestamp header and signature change). */
  body: string;
}

/**
 * How long a change to the delivery log may wait in memory before its batched write (one transaction, so one fsync,
 * for every delivery that changed meanwhile). A read of the log (GET …/deliveries), whenIdle() and shutdown write at
 * once, so nothing reads a stale log; a crash loses at most this much of the log (the queue itself is memory only).
 */
export const WEBHOOK_LOG_FLUSH_MS = 1000;

/** The look-up that decided where an attempt connects, or where it must not. */
export interface CheckedUrl {
  url: URL;
  /** The address to connect to (checked); undefined when the policy is off (WEBHOOK_ALLOW_LINK_LOCAL). */
  address?: string;
}

/** http(s) URL, no user:password, a host: else `invalid_url` (400). */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CodedError('invalid_url', 'url: not a valid absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CodedError('invalid_url', 'url: only http:// and https:// webhook URLs are allowed');
  if (url.username || url.password) throw new CodedError('invalid_url', 'url: no user:password@ in a webhook URL (the signature authenticates the server)');
  if (!url.hostname) throw new CodedError('invalid_url', 'url: no host');
  return url;
}

/**
 * Rules → signed POSTs, never in the pipeline's way. Subscribed to the EventBus (`expression`, `face.leave`,
 * `camera.removed`), the pure WebhookRuleEngine decides synchronously (rules are cached in memory) and a firing becomes
 * a job in a bounded queue; at most WEBHOOK_CONCURRENCY requests run at once, each with WEBHOOK_TIMEOUT_MS. A failed
 * attempt (network error, timeout, 5xx, 408, 429) is retried after min(WEBHOOK_BACKOFF_MAX_MS, BASE * 2^(n-1)) up to
 * WEBHOOK_MAX_ATTEMPTS; a redirect or another 4xx is final. Before EVERY attempt the host is checked against the
 * destination policy (DNS can change) and the request connects to the checked address. Each state change is written
 * to the rule's delivery log (the newest WEBHOOK_LOG_KEEP kept).
 */
@Injectable()
export class WebhookDispatcher implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Webhooks');
  private readonly engine = new WebhookRuleEngine();
  private readonly policy: DestinationPolicy;
  private readonly subscription = new Subscription();
  private readonly ready: Job[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly cancellation = new Cancellation();
  private readonly connections: WebhookConnections;
  /**
   * Every stored rule, enabled or not, by id, and the JSON of its `rule` part of a body: read from the repository on
   * reload() (each change through WebhooksService, and each row another node changed), never per firing or attempt.
   */
  private rules = new Map<string, { record: WebhookRecord; json: string }>();
  /** Delivery log rows changed since the last write, by delivery id (the latest state wins). */
  private readonly logBuffer = new Map<string, WebhookDeliveryRecord>();
  private logTimer: NodeJS.Timeout | null = null;
  private stopReplicated: (() => void) | null = null;
  /** Jobs not finished: waiting, in flight, or between retries (bounded by WEBHOOK_QUEUE_MAX). */
  private pending = 0;
  private inFlight = 0;
  private closed = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(EventBus) private readonly bus: EventBus,
    @Inject(WebhookRepository) private readonly repo: WebhookRepository,
    @Inject(WebhookMetrics) private readonly metrics: WebhookMetrics,
    @Inject(HOST_RESOLVER) resolver: HostResolver,
    @Optional() @Inject(ReplicatedChanges) private readonly replicated: ReplicatedChanges | null = null,
  ) {
    this.policy = new DestinationPolicy({ allowLinkLocal: config.WEBHOOK_ALLOW_LINK_LOCAL, resolver, setting: 'WEBHOOK_ALLOW_LINK_LOCAL' });
    this.connections = new WebhookConnections(config.WEBHOOK_CONCURRENCY);
  }

  onModuleInit(): void {
    this.reload();
    // Clustered: a rule created, changed or deleted on another node reaches this node's SQLite as a replicated row.
    this.stopReplicated =
      this.replicated?.on((change) => {
        if (change.table === 'webhooks') this.reload();
      }) ?? null;
    this.subscription.add(
      this.bus.on('expression', 'face.leave', 'camera.removed').subscribe((e) => {
        try {
          if (e.name === 'expression') {
            if (this.engine.ruleCount > 0) for (const f of this.engine.onExpression(e.payload)) this.enqueue(f);
          } else if (e.name === 'face.leave') this.engine.onFaceLeave(e.payload.cameraId, e.payload.trackId);
          else this.engine.onCameraRemoved(e.payload.cameraId);
        } catch (err) {
          // A bad event must not end the subscription.
          this.logger.warn(`webhook rules: ${(err as Error).message}`);
        }
      }),
    );
  }

  /** Before StorageModule closes the database (onApplicationShutdown): the log's last changes are written. */
  onModuleDestroy(): void {
    this.closed = true;
    this.subscription.unsubscribe();
    this.stopReplicated?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.cancellation.cancel();
    this.connections.destroy();
    this.ready.length = 0;
    this.flushLog();
  }

  /** Re-reads the rules (after a change through the REST API, or replicated from another node). */
  reload(): void {
    const records = this.repo.list();
    this.rules = new Map(records.map((r) => [r.id, { record: r, json: JSON.stringify(ruleOf(r)) }]));
    this.engine.setRules(
      records
        .filter((r) => r.enabled)
        .map((r) => ({ id: r.id, cameraId: r.cameraId, userId: r.userId, label: r.label, minScore: r.minScore, minDurationMs: r.minDurationMs, cooldownMs: r.cooldownMs })),
    );
  }

  /**
   * The URL checked against the destination policy: `invalid_url` or `destination_forbidden` (both 400). A name that
   * does not resolve is accepted at creation (`address` undefined) and retried at delivery.
   */
  async checkUrl(raw: string): Promise<CheckedUrl> {
    const url = parseWebhookUrl(raw);
    const verdict = await this.policy.check(urlHost(url));
    return { url, address: this.policy.allowsLinkLocal ? undefined : verdict.addresses[0] };
  }

  /** Resolves when nothing is waiting, in flight or between retries (tests, shutdown), the delivery log written. */
  whenIdle(): Promise<void> {
    if (this.pending === 0) {
      this.flushLog();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Writes the delivery log's buffered changes now, in one transaction (before it is read). */
  flushLog(): void {
    if (this.logTimer) clearTimeout(this.logTimer);
    this.logTimer = null;
    if (this.logBuffer.size === 0) return;
    const rows = [...this.logBuffer.values()];
    this.logBuffer.clear();
    try {
      this.repo.saveDeliveries(rows, this.config.WEBHOOK_LOG_KEEP);
    } catch (err) {
      this.logger.warn(`webhook delivery log: ${rows.length} change(s) not written: ${(err as Error).message}`);
    }
  }

  private enqueue(f: Firing): void {
    this.metrics.firings.inc();
    if (this.pending >= this.config.WEBHOOK_QUEUE_MAX) {
      // Counted only: a log row per dropped firing would put the flood's cost on the event loop.
      this.metrics.dropped.inc({ reason: 'queue_full' });
      return;
    }
    const rule = this.rules.get(f.ruleId);
    if (!rule) return;
    const now = Date.now();
    const id = randomUUID();
    const event = JSON.stringify(f.event);
    const record: WebhookDeliveryRecord = {
      id,
      webhookId: f.ruleId,
      status: 'pending',
      attempts: 0,
      responseStatus: null,
      lastError: null,
      event,
      createdAt: now,
      updatedAt: now,
    };
    this.pending++;
    this.metrics.queued.set(this.pending);
    this.log(record);
    this.ready.push({ record, body: bodyJson(id, f.ts, rule.json, event) });
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.config.WEBHOOK_CONCURRENCY && this.ready.length > 0) {
      const job = this.ready.shift()!;
      this.inFlight++;
      void this.attempt(job).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async attempt(job: Job): Promise<void> {
    const rule = this.rules.get(job.record.webhookId)?.record;
    if (!rule || !rule.enabled) return this.finish(job, 'failed', rule ? 'rule disabled before delivery' : null, null);
    job.record.attempts++;
    try {
      const target = await this.checkUrl(rule.url);
      if (!this.policy.allowsLinkLocal && !target.address) throw new WebhookAttemptError(`could not resolve "${urlHost(target.url)}"`, true);
      const timestamp = Math.floor(Date.now() / 1000);
      const status = await postOnce({
        url: target.url,
        address: target.address,
        body: job.body,
        timeoutMs: this.config.WEBHOOK_TIMEOUT_MS,
        cancel: this.cancellation,
        agent: this.connections.agentFor(target.url, target.address),
        headers: {
          'user-agent': 'iExpressionNet-Webhook/1',
          [WEBHOOK_HEADERS.signature]: signWebhook(rule.secret, timestamp, job.body),
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.delivery]: job.record.id,
        },
      });
      this.metrics.attempts.inc({ result: 'ok' });
      this.finish(job, 'delivered', null, status);
    } catch (err) {
      if (this.closed) return;
      const forbidden = err instanceof DestinationForbiddenError || (err instanceof CodedError && err.code === 'invalid_url');
      const e = err instanceof WebhookAttemptError ? err : new WebhookAttemptError((err as Error).message, !forbidden);
      this.metrics.attempts.inc({ result: forbidden ? 'forbidden' : e.status !== null ? 'http_error' : 'network' });
      if (e.retryable && job.record.attempts < this.config.WEBHOOK_MAX_ATTEMPTS) this.retryLater(job, e);
      else this.finish(job, 'failed', e.message, e.status);
    }
  }

  private retryLater(job: Job, e: WebhookAttemptError): void {
    const c = this.config;
    const delay = Math.min(c.WEBHOOK_BACKOFF_MAX_MS, c.WEBHOOK_BACKOFF_BASE_MS * 2 ** (job.record.attempts - 1));
    this.update(job, 'retrying', e.message, e.status);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.ready.push(job);
      this.pump();
    }, delay);
    timer.unref?.();
    this.timers.add(timer);
  }

  private finish(job: Job, status: WebhookDeliveryStatus, lastError: string | null, responseStatus: number | null): void {
    this.update(job, status, lastError, responseStatus);
    this.metrics.outcomes.inc({ outcome: status === 'delivered' ? 'delivered' : 'failed' });
    if (status === 'failed') this.logger.warn(`webhook ${job.record.webhookId} delivery ${job.record.id} failed after ${job.record.attempts} attempt(s): ${lastError ?? 'rule deleted'}`);
    this.pending--;
    this.metrics.queued.set(this.pending);
    if (this.pending === 0 && this.idleWaiters.length > 0) {
      this.flushLog();
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private update(job: Job, status: WebhookDeliveryStatus, lastError: string | null, responseStatus: number | null): void {
    const r = job.record;
    r.status = status;
    r.lastError = lastError;
    r.responseStatus = responseStatus;
    r.updatedAt = Date.now();
    this.log(r);
  }

  /** Marks a log row changed; the write happens within WEBHOOK_LOG_FLUSH_MS, with every other change of that time. */
  private log(record: WebhookDeliveryRecord): void {
    this.logBuffer.set(record.id, record);
    // Bounded like the queue: a flood of fast deliveries writes early rather than holding more rows.
    if (this.logBuffer.size >= this.config.WEBHOOK_QUEUE_MAX) return this.flushLog();
    if (this.logTimer || this.closed) return;
    this.logTimer = setTimeout(() => this.flushLog(), WEBHOOK_LOG_FLUSH_MS);
    this.logTimer.unref?.();
  }
}

/** The body's `rule` part (WebhookBody['rule']): no URL, no secret, no cooldown. */
function ruleOf(r: WebhookRecord): WebhookBody['rule'] {
  return { id: r.id, cameraId: r.cameraId, userId: r.userId, label: r.label, minScore: r.minScore, minDurationMs: r.minDurationMs };
}

/**
 * A WebhookBody as JSON, from parts already serialised: the rule's JSON is made once per reload and the event's once
 * per firing (it is also the log row's `event`), so a firing serialises each thing once. Same keys, same order, as
 * JSON.stringify of a WebhookBody (webhook.dispatcher.spec.ts checks it).
 */
export function bodyJson(id: string, ts: number, ruleJson: string, eventJson: string): string {
  return `{"id":${JSON.stringify(id)},"ts":${JSON.stringify(ts)},"rule":${ruleJson},"event":${eventJson}}`;
}
