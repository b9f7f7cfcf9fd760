import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Counter, Gauge } from 'prom-client';
import { Subscription } from 'rxjs';
import { CONFIG, Config } from '../../config';
import { CodedError } from '../../contracts/errors';
import { WEBHOOK_HEADERS, type WebhookBody, type WebhookDeliveryStatus, type WebhookEventPayload } from '../../contracts/webhooks';
import { EventBus } from '../../events/event-bus';
import { DestinationForbiddenError, DestinationPolicy, HOST_RESOLVER, type HostResolver, urlHost } from '../../ingest/destination-policy';
import { WebhookDeliveryRecord, WebhookRecord, WebhookRepository } from '../../storage/ports/webhook.repository';
import { DeliveryMetrics } from '../delivery.metrics';
import { Firing, WebhookRuleEngine } from './webhook-rules';
import { postOnce, WebhookAttemptError } from './webhook.sender';
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
  record: WebhookDeliveryRecord;
  body: WebhookBody;
}

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
  private readonly aborts = new Set<AbortController>();
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
  ) {
    this.policy = new DestinationPolicy({ allowLinkLocal: config.WEBHOOK_ALLOW_LINK_LOCAL, resolver, setting: 'WEBHOOK_ALLOW_LINK_LOCAL' });
  }

  onModuleInit(): void {
    this.reload();
    this.subscription.add(
      this.bus.on('expression', 'face.leave', 'camera.removed').subscribe((e) => {
        try {
          if (e.name === 'expression') {
            if (this.engine.ruleCount > 0) for (const f of this.engine.onExpression(e.payload)) this.enqueue(f);
          } else if (e.name === 'face.leave') this.engine.onFaceLeave(e.payload.cameraId, e.payload.trackId);
          else this.engine.onCameraRemoved(e.payload.cameraId);
        } catch (err) {
          // A bad event or a failed log write must not end the subscription.
          this.logger.warn(`webhook rules: ${(err as Error).message}`);
        }
      }),
    );
  }

  onModuleDestroy(): void {
    this.closed = true;
    this.subscription.unsubscribe();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const a of this.aborts) a.abort();
    this.ready.length = 0;
  }

  /** Re-reads the enabled rules (after a change through the REST API). */
  reload(): void {
    this.engine.setRules(
      this.repo
        .list()
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

  /** Resolves when nothing is waiting, in flight or between retries (tests, shutdown). */
  whenIdle(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private enqueue(f: Firing): void {
    this.metrics.firings.inc();
    if (this.pending >= this.config.WEBHOOK_QUEUE_MAX) {
      // Counted only: a database write per dropped firing would put the flood's cost on the event loop.
      this.metrics.dropped.inc({ reason: 'queue_full' });
      return;
    }
    const rule = this.repo.get(f.ruleId);
    if (!rule) return;
    const now = Date.now();
    const record: WebhookDeliveryRecord = {
      id: randomUUID(),
      webhookId: rule.id,
      status: 'pending',
      attempts: 0,
      responseStatus: null,
      lastError: null,
      event: JSON.stringify(f.event),
      createdAt: now,
      updatedAt: now,
    };
    this.pending++;
    this.metrics.queued.set(this.pending);
    this.save(record);
    this.ready.push({ record, body: bodyOf(record.id, f.ts, rule, f.event) });
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
    const rule = this.repo.get(job.record.webhookId);
    if (!rule || !rule.enabled) return this.finish(job, 'failed', rule ? 'rule disabled before delivery' : null, null);
    const abort = new AbortController();
    this.aborts.add(abort);
    job.record.attempts++;
    try {
      const target = await this.checkUrl(rule.url);
      if (!this.policy.allowsLinkLocal && !target.address) throw new WebhookAttemptError(`could not resolve "${urlHost(target.url)}"`, true);
      const body = JSON.stringify(job.body);
      const timestamp = Math.floor(Date.now() / 1000);
      const status = await postOnce({
        url: target.url,
        address: target.address,
        body,
        timeoutMs: this.config.WEBHOOK_TIMEOUT_MS,
        signal: abort.signal,
        headers: {
          'user-agent': 'iExpressionNet-Webhook/1',
          [WEBHOOK_HEADERS.signature]: signWebhook(rule.secret, timestamp, body),
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
    } finally {
      this.aborts.delete(abort);
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
    if (this.pending === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private update(job: Job, status: WebhookDeliveryStatus, lastError: string | null, responseStatus: number | null): void {
    job.record = { ...job.record, status, lastError, responseStatus, updatedAt: Date.now() };
    this.save(job.record);
  }

  private save(record: WebhookDeliveryRecord): void {
    try {
      this.repo.saveDelivery(record, this.config.WEBHOOK_LOG_KEEP);
    } catch (err) {
      this.logger.warn(`webhook delivery log: ${(err as Error).message}`);
    }
  }
}

function bodyOf(id: string, ts: number, rule: WebhookRecord, event: WebhookEventPayload): WebhookBody {
  return {
    id,
    ts,
    rule: { id: rule.id, cameraId: rule.cameraId, userId: rule.userId, label: rule.label, minScore: rule.minScore, minDurationMs: rule.minDurationMs },
    event,
  };
}
