import { type AckPayloads, type CameraInput, type CameraView, ERROR_CODES, type ErrorCode, type FinetuneJobView, type LabelName, type ModelVersionView, type UserView } from '../../../src/contracts';
import type { ClusterView, HistoryResolution, HistorySeriesView, HistorySummaryView } from '../../../src/contracts';
import type { WebhookDeliveryView, WebhookInput, WebhookPatch, WebhookView, WebhookWithSecret } from '../../../src/contracts';
import { IExpressionError } from './errors';

/**
 * A history query (docs/HISTORY.md): no camera and no user = every camera; `from`/`to` are ms since the epoch, ISO 8601
 * strings or Dates (the server's default range is the last hour, `to` exclusive).
 */
export interface HistoryQuery {
  cameraId?: string;
  userId?: string;
  from?: number | string | Date;
  to?: number | string | Date;
  /** Bucket size of `history()` (default: the server's finest); with an export, the buckets are exported instead of the stored rows. */
  resolution?: HistoryResolution;
}

export interface RestOptions {
  /** The server's base URL, e.g. `http://localhost:3000`. */
  baseUrl: string;
  token?: string | null;
  /** Defaults to `globalThis.fetch` (Node 20 and browsers have it). */
  fetch?: typeof fetch;
}

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'bad_message',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'too_large',
  422: 'bad_message',
  429: 'rate_limited',
  503: 'unavailable',
};

/** REST helpers under `/api`; every failure rejects with an IExpressionError carrying the HTTP status. */
export class IExpressionRest {
  private readonly baseUrl: string;
  private readonly doFetch: typeof fetch;
  token: string | null;

  constructor(options: RestOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.token ?? null;
    this.doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  health(): Promise<Record<string, unknown>> {
    return this.request('GET', '/api/health');
  }
  /** GET /api/cluster: this node and every live node with its cameras and load (a single node: just itself). */
  cluster(): Promise<ClusterView> {
    return this.request('GET', '/api/cluster');
  }

  listCameras(): Promise<CameraView[]> {
    return this.request('GET', '/api/cameras');
  }
  getCamera(id: string): Promise<CameraView> {
    return this.request('GET', `/api/cameras/${encodeURIComponent(id)}`);
  }
  addCamera(input: CameraInput): Promise<CameraView> {
    return this.request('POST', '/api/cameras', input);
  }
  removeCamera(id: string): Promise<void> {
    return this.request('DELETE', `/api/cameras/${encodeURIComponent(id)}`);
  }

  listUsers(): Promise<UserView[]> {
    return this.request('GET', '/api/users');
  }
  createUser(name: string): Promise<UserView> {
    return this.request('POST', '/api/users', { name });
  }
  deleteUser(id: string): Promise<void> {
    return this.request('DELETE', `/api/users/${encodeURIComponent(id)}`);
  }

  /** Uploads one labelled photo; the server detects the face in it exactly as on a stream. */
  uploadSample(userId: string, label: LabelName, image: Blob, filename = 'sample.jpg'): Promise<Record<string, unknown>> {
    const form = new FormData();
    form.append('label', label);
    form.append('image', image, filename);
    return this.request('POST', `/api/users/${encodeURIComponent(userId)}/samples`, form);
  }

  listModels(userId: string): Promise<ModelVersionView[]> {
    return this.request('GET', `/api/users/${encodeURIComponent(userId)}/models`);
  }
  /** Starts a fine-tune job; the new version is activated when the job is done. */
  startFinetune(userId: string, options: { epochs?: number } = {}): Promise<AckPayloads['finetune.start']> {
    return this.request('POST', `/api/users/${encodeURIComponent(userId)}/finetune`, options);
  }
  /** A fine-tune job's state (queued, running, done, failed), progress and result or error. */
  finetuneJob(userId: string, jobId: string): Promise<FinetuneJobView> {
    return this.request('GET', `/api/users/${encodeURIComponent(userId)}/finetune/${encodeURIComponent(jobId)}`);
  }
  /** URL of the single-file ONNX export (trunk + personal head) of a version. */
  modelExportUrl(userId: string, version: number): string {
    return `${this.baseUrl}/api/users/${encodeURIComponent(userId)}/models/${version}/onnx`;
  }

  /** Webhook rules (admin token). The answer of create/rotate is the only place the signing secret appears. */
  listWebhooks(): Promise<WebhookView[]> {
    return this.request('GET', '/api/webhooks');
  }
  createWebhook(input: WebhookInput): Promise<WebhookWithSecret> {
    return this.request('POST', '/api/webhooks', input);
  }
  updateWebhook(id: string, patch: WebhookPatch): Promise<WebhookView> {
    return this.request('PATCH', `/api/webhooks/${encodeURIComponent(id)}`, patch);
  }
  deleteWebhook(id: string): Promise<void> {
    return this.request('DELETE', `/api/webhooks/${encodeURIComponent(id)}`);
  }
  rotateWebhookSecret(id: string): Promise<WebhookWithSecret> {
    return this.request('POST', `/api/webhooks/${encodeURIComponent(id)}/secret`);
  }
  /** The rule's delivery log, newest first. */
  webhookDeliveries(id: string, limit?: number): Promise<WebhookDeliveryView[]> {
    return this.request('GET', `/api/webhooks/${encodeURIComponent(id)}/deliveries${limit ? `?limit=${limit}` : ''}`);
  }

  /** Expression history aggregated by the server into buckets of `resolution` (400 `bad_message` beyond HISTORY_MAX_BUCKETS buckets). */
  history(query: HistoryQuery = {}): Promise<HistorySeriesView> {
    return this.request('GET', `/api/history${historyQueryString(query)}`);
  }
  /** Share of time per dominant label over the range, in all and per (camera, user). */
  historySummary(query: Omit<HistoryQuery, 'resolution'> = {}): Promise<HistorySummaryView> {
    const { resolution: _ignored, ...filter } = query as HistoryQuery;
    return this.request('GET', `/api/history/summary${historyQueryString(filter)}`);
  }
  /**
   * URL of a streamed export (the stored rows, or the buckets when `resolution` is given). Fetching it needs the
   * `Authorization` header when the server has tokens, which a plain link cannot send: use `exportHistory` then.
   */
  historyExportUrl(query: HistoryQuery = {}, format: 'csv' | 'json' = 'csv'): string {
    return `${this.baseUrl}/api/history${historyQueryString(query, format)}`;
  }
  /**
   * Fetches an export with this client's token. Resolves with the response once the server has accepted the query (its
   * body still streaming: `.text()`, `.blob()` or `.body`); rejects with the server's typed error otherwise.
   */
  async exportHistory(query: HistoryQuery = {}, format: 'csv' | 'json' = 'csv'): Promise<Response> {
    const path = `/api/history${historyQueryString(query, format)}`;
    let response: Response;
    try {
      response = await this.doFetch(`${this.baseUrl}${path}`, { method: 'GET', headers: this.authHeaders() });
    } catch (err) {
      throw new IExpressionError('network', `GET ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (response.ok) return response;
    const text = await response.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: the text is the message
    }
    throw restError(response.status, json);
  }

  private authHeaders(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers = this.authHeaders();
    let payload: FormData | string | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await this.doFetch(`${this.baseUrl}${path}`, { method, headers, body: payload });
    } catch (err) {
      throw new IExpressionError('network', `${method} ${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await response.text();
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
    }
    if (!response.ok) throw restError(response.status, json);
    return json as T;
  }
}

/** `?cameraId=…&from=…` with the times as ms since the epoch; empty when nothing is set. */
function historyQueryString(query: HistoryQuery, format?: 'csv' | 'json'): string {
  const time = (t: number | string | Date | undefined) => (t === undefined ? undefined : t instanceof Date ? String(t.getTime()) : String(t));
  const fields = { cameraId: query.cameraId, userId: query.userId, from: time(query.from), to: time(query.to), resolution: query.resolution, format };
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) if (value) params.set(key, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}

const isErrorCode = (v: unknown): v is ErrorCode => typeof v === 'string' && (ERROR_CODES as readonly string[]).includes(v);

/**
 * The server answers `{statusCode, error: <ErrorCode>, message}` (docs/API.md); `{code}` bodies and Nest's default
 * `{error: "Bad Request"}` (a proxy or an unhandled route) fall back to the HTTP status.
 */
function restError(status: number, body: unknown): IExpressionError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const code = isErrorCode(b.error) ? b.error : isErrorCode(b.code) ? b.code : (STATUS_CODES[status] ?? 'internal');
  const raw = b.message ?? (typeof body === 'string' ? body : undefined) ?? `HTTP ${status}`;
  const message = Array.isArray(raw) ? raw.join('; ') : String(raw);
  return new IExpressionError(code, message, status);
}
