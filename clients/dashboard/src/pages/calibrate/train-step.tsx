/** Calibration step 4: fine-tune the personal model, follow progress, compare and activate versions. */
import { useEffect, useState } from 'preact/hooks';
import type { ModelVersionView } from '../../../../sdk/src';
import { Chart } from '../../components/chart';
import { describeError, type DashboardStore } from '../../store';
import { pct } from './texts';

export function TrainStep({ store, userId }: { store: DashboardStore; userId: string }) {
  // Coming back to the page shows the epochs of the run on screen, not the default.
  const [epochs, setEpochs] = useState(() => String(store.calibrationOf(userId).progress.at(-1)?.of ?? 20));
  const [error, setError] = useState<string | null>(null);
  const [versions, setVersions] = useState<ModelVersionView[] | null>(null);
  const state = store.calibrationOf(userId);
  const user = store.users.find((u) => u.id === userId);
  const loadVersions = async () => {
    try {
      setVersions(await store.rest.listModels(userId));
    } catch {
      setVersions(null); // the list falls back to what this session saw
    }
  };
  useEffect(() => void loadVersions(), [userId, state.result?.version, user?.activeVersion]);
  const train = async () => {
    setError(null);
    Object.assign(state, { training: true, progress: [], result: null, failure: null });
    store.notify();
    try {
      await store.client.command('finetune.start', { userId, epochs: Number(epochs) || undefined });
    } catch (err) {
      state.training = false;
      setError(describeError(err));
      store.notify();
    }
  };
  const activate = async (version: number) => {
    setError(null);
    try {
      await store.client.command('model.activate', { userId, version });
      await store.refresh();
      await loadVersions();
    } catch (err) {
      setError(describeError(err));
    }
  };
  const last = state.progress.at(-1);
  const result = state.result;
  const shownVersions: Array<{ version: number; active: boolean; general: number | null; personal: number | null }> = versions
    ? versions.map((v) => ({ version: v.version, active: v.active, general: v.metrics.generalAccuracy, personal: v.metrics.personalAccuracy }))
    : result
      ? [{ version: result.version, active: user?.activeVersion === result.version, general: result.metrics.generalAccuracy, personal: result.metrics.personalAccuracy }]
      : [];
  return (
    <section class="card step step-wide" aria-labelledby="step-train">
      <h2 id="step-train">4 · Train your personal model</h2>
      <div class="row">
        <label class="inline">
          Epochs
          <input type="number" min="1" max="200" value={epochs} class="short" onInput={(e) => setEpochs((e.target as HTMLInputElement).value)} />
        </label>
        <button type="button" class="primary" disabled={state.training} onClick={() => void train()}>
          {state.training ? 'Training…' : 'Train'}
        </button>
      </div>
      {state.training || state.progress.length ? (
        <div class="training">
          <label>
            <span>
              {result && !state.training
                ? `✓ Done: ${result.metrics.epochs} epochs in ${Math.max(1, Math.round(result.metrics.seconds))} s`
                : last
                  ? `Epoch ${last.epoch} of ${last.of} · about ${Math.ceil(last.etaSeconds)} s left`
                  : 'Starting…'}
            </span>
            {/* The trainer may stop before the last epoch (no more improvement): a finished run is a full bar. */}
            <progress max={last?.of ?? 1} value={result && !state.training ? (last?.of ?? 1) : (last?.epoch ?? 0)} />
          </label>
          <Chart
            label="Training loss and accuracy by epoch"
            refreshMs={300}
            height={180}
            deps={[userId]}
            data={() => {
              const p = store.calibrationOf(userId).progress;
              return [p.map((e) => e.epoch), p.map((e) => e.loss), p.map((e) => e.accuracy)];
            }}
            options={(width) => ({
              width,
              height: 180,
              legend: { live: false },
              scales: { x: { time: false }, acc: { range: [0, 1] } },
              axes: [
                { stroke: '#aab', label: 'epoch', incrs: [1, 2, 5, 10, 20, 50] },
                { stroke: '#aab', label: 'loss' },
                { stroke: '#aab', scale: 'acc', side: 1, label: 'accuracy', values: (_u, v) => v.map((x) => `${Math.round(x * 100)}%`) },
              ],
              series: [{ label: 'epoch' }, { label: 'loss', stroke: '#e5484d', width: 2 }, { label: 'accuracy', stroke: '#30a46c', width: 2, dash: [6, 3], scale: 'acc' }],
            })}
          />
        </div>
      ) : null}
      {result ? (
        <p class="result" role="status">
          General {pct(result.metrics.generalAccuracy)} → personal <strong>{pct(result.metrics.personalAccuracy)}</strong> on your{' '}
          {result.metrics.heldOut} held-out samples (model v{result.version}
          {result.active ? ', now active' : ''}).
        </p>
      ) : null}
      {result && (result.metrics.personalAccuracy ?? 0) < (result.metrics.generalAccuracy ?? 0) ? (
        <p class="warn" role="status">
          ⚠ The personal model scored lower than the general one on your held-out samples. Calibrate again (follow each
          prompt, more rounds, good light: new samples add to these), or use the general model below.
        </p>
      ) : null}
      {state.failure ? (
        <p class="field-error" role="alert">
          ⚠ {state.failure}
        </p>
      ) : null}
      {error ? (
        <p class="field-error" role="alert">
          ⚠ {error}
        </p>
      ) : null}
      <h3>Model versions</h3>
      <ul class="versions">
        <li>
          General model {user && user.activeVersion === null ? <strong>(active)</strong> : null}
          {user && user.activeVersion !== null ? (
            <button type="button" onClick={() => void activate(0)}>
              Use general model
            </button>
          ) : null}
        </li>
        {shownVersions.map((v) => (
          <li data-version={v.version}>
            v{v.version}: general {pct(v.general)} → personal {pct(v.personal)}{' '}
            {v.active || user?.activeVersion === v.version ? (
              <strong>(active)</strong>
            ) : (
              <button type="button" onClick={() => void activate(v.version)}>
                Activate v{v.version}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
