import { useEffect, useState } from 'preact/hooks';
import { LABEL_NAMES, type WebhookDeliveryView, type WebhookView } from '../../../sdk/src';
import { describeError, useStore } from '../store';

/** Webhook rules (docs/INTEGRATIONS.md): list, add (the secret is shown once), delete, and each rule's delivery log. */
export function WebhooksPage() {
  const store = useStore();
  const [rules, setRules] = useState<WebhookView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ id: string; secret: string } | null>(null);
  const [log, setLog] = useState<{ id: string; deliveries: WebhookDeliveryView[] } | null>(null);
  const [form, setForm] = useState({ url: '', label: 'happy', minScore: '0.7', minDurationMs: '2000', cooldownMs: '0' });

  const load = async () => {
    try {
      setRules(await store.rest.listWebhooks());
      setError(null);
    } catch (err) {
      setError(describeError(err));
    }
  };
  useEffect(() => void load(), []);

  const create = async (ev: Event) => {
    ev.preventDefault();
    try {
      const created = await store.rest.createWebhook({
        url: form.url.trim(),
        label: form.label ? (form.label as WebhookView['label']) : null,
        minScore: Number(form.minScore),
        minDurationMs: Number(form.minDurationMs),
        cooldownMs: Number(form.cooldownMs),
      });
      setSecret({ id: created.id, secret: created.secret });
      setForm({ ...form, url: '' });
      await load();
    } catch (err) {
      store.toast(`Could not add the webhook: ${describeError(err)}`);
    }
  };
  const remove = async (id: string) => {
    try {
      await store.rest.deleteWebhook(id);
      if (log?.id === id) setLog(null);
      await load();
    } catch (err) {
      store.toast(`Could not delete the webhook: ${describeError(err)}`);
    }
  };
  const showLog = async (id: string) => {
    try {
      setLog({ id, deliveries: await store.rest.webhookDeliveries(id, 50) });
    } catch (err) {
      store.toast(`Could not load the delivery log: ${describeError(err)}`);
    }
  };
  const field = (name: keyof typeof form) => (e: Event) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value });

  return (
    <section class="stack" aria-labelledby="webhooks-title">
      <h1 id="webhooks-title">Webhooks</h1>
      <p class="muted">
        A rule POSTs a signed JSON body to a URL when a face's label score stays at or above a threshold for a while. Needs
        an admin token.
      </p>
      <form class="card stack" aria-label="Add a webhook" onSubmit={(e) => void create(e)}>
        <label>
          URL
          <input name="url" type="url" required placeholder="https://example.com/hooks/iex" value={form.url} onInput={field('url')} />
        </label>
        <div class="row">
          <label class="inline">
            Label
            <select name="label" value={form.label} onChange={field('label')}>
              <option value="">dominant</option>
              {LABEL_NAMES.map((l) => (
                <option value={l}>{l}</option>
              ))}
            </select>
          </label>
          <label class="inline">
            Min score
            <input name="minScore" type="number" min="0" max="1" step="0.05" value={form.minScore} onInput={field('minScore')} />
          </label>
          <label class="inline">
            For (ms)
            <input name="minDurationMs" type="number" min="0" step="100" value={form.minDurationMs} onInput={field('minDurationMs')} />
          </label>
          <label class="inline">
            Cooldown (ms)
            <input name="cooldownMs" type="number" min="0" step="1000" value={form.cooldownMs} onInput={field('cooldownMs')} />
          </label>
          <button type="submit" class="primary" disabled={!form.url.trim()}>
            Add webhook
          </button>
        </div>
      </form>
      {secret ? (
        <div class="card" role="status" data-webhook-secret={secret.id}>
          <p>
            Signing secret of the new rule, shown this once: <code>{secret.secret}</code>
          </p>
          <button type="button" class="link" onClick={() => setSecret(null)}>
            I saved it
          </button>
        </div>
      ) : null}
      {error ? <p class="field-error" role="alert">⚠ {error}</p> : null}
      <table class="card" aria-label="Webhook rules">
        <thead>
          <tr>
            <th scope="col">URL</th>
            <th scope="col">Rule</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {(rules ?? []).map((r) => (
            <tr data-webhook={r.id}>
              <td>{r.url}</td>
              <td>
                {r.label ?? 'dominant'} ≥ {r.minScore} for {r.minDurationMs} ms
                {r.cameraId ? ` on ${r.cameraId}` : r.userId ? ` for ${r.userId}` : ''}
                {r.cooldownMs ? `, cooldown ${r.cooldownMs} ms` : ''}
                {r.enabled ? '' : ' (disabled)'}
              </td>
              <td class="row">
                <button type="button" onClick={() => void showLog(r.id)}>
                  Deliveries
                </button>
                <button type="button" onClick={() => void remove(r.id)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {rules && rules.length === 0 ? <p class="muted">No webhook rules yet.</p> : null}
      {log ? (
        <table class="card" aria-label="Delivery log">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">HTTP</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {log.deliveries.map((d) => (
              <tr>
                <td>{new Date(d.createdAt).toLocaleString()}</td>
                <td>{d.status}</td>
                <td>{d.attempts}</td>
                <td>{d.responseStatus ?? '–'}</td>
                <td>{d.lastError ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
