import { useEffect, useState } from 'preact/hooks';
import { LABEL_NAMES, type LabelName, type ModelVersionView } from '../../../sdk/src';
import { Chart } from '../components/chart';
import { LiveView } from '../components/live-view';
import { LABEL_COLORS, LABEL_EMOJI } from '../overlay';
import { describeError, useStore, useTick, type DashboardStore } from '../store';
import { webcam } from '../webcam';

const REJECTION_TEXT: Record<string, string> = {
  blurred: 'too blurred — hold still',
  too_small: 'face too small — come closer',
  duplicate: 'same as the last one — vary a little',
  no_face: 'no face found',
  several_faces: 'several faces — only you in view, please',
};

const PROMPT_TEXT: Record<LabelName, string> = {
  angry: 'Look angry',
  disgust: 'Look disgusted',
  fear: 'Look afraid',
  happy: 'Smile — look happy',
  sad: 'Look sad',
  surprise: 'Look surprised',
  neutral: 'Relax — a neutral face',
};

function pct(x: number | null | undefined): string {
  return x === null || x === undefined ? '–' : `${Math.round(x * 100)}%`;
}

function UserStep({ store }: { store: DashboardStore }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const create = async (ev: Event) => {
    ev.preventDefault();
    setError(null);
    try {
      const ack = await store.client.command('user.create', { name });
      const id = ack.user.id;
      setName('');
      await store.refresh();
      store.selectedUserId = id;
      store.notify();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <section class="card step" aria-labelledby="step-user">
      <h2 id="step-user">1 · Who is calibrating?</h2>
      {store.users.length ? (
        <fieldset class="choices">
          <legend>Choose a person</legend>
          {store.users.map((u) => (
            <label class="choice">
              <input
                type="radio"
                name="user"
                checked={store.selectedUserId === u.id}
                onChange={() => {
                  store.selectedUserId = u.id;
                  store.notify();
                }}
              />
              {u.name}
              <span class="muted">{u.activeVersion ? ` · personal model v${u.activeVersion}` : ' · general model'}</span>
            </label>
          ))}
        </fieldset>
      ) : (
        <p class="muted">No people yet — add yourself.</p>
      )}
      <form class="row" onSubmit={(e) => void create(e)}>
        <label class="grow">
          New person's name
          <input
            name="username"
            value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
            aria-invalid={error ? 'true' : undefined}
            aria-describedby={error ? 'user-error' : undefined}
          />
        </label>
        <button type="submit">Add person</button>
      </form>
      {error ? (
        <p class="field-error" id="user-error" role="alert">
          ⚠ {error}
        </p>
      ) : null}
    </section>
  );
}

function CameraStep({ store, userId, cameraId, setCameraId }: { store: DashboardStore; userId: string; cameraId: string | null; setCameraId: (id: string) => void }) {
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const cameras = [...store.cameras.values()];
  const user = store.userName(userId);
  const run = async (fn: () => Promise<unknown>, ok: string) => {
    setMessage(null);
    try {
      await fn();
      setMessage({ ok: true, text: ok });
      void store.refresh();
    } catch (err) {
      setMessage({ ok: false, text: describeError(err) });
    }
  };
  const tracks = cameraId ? store.tracksOf(cameraId).filter((t) => Date.now() - t.lastSeen < 10_000) : [];
  return (
    <section class="card step" aria-labelledby="step-camera">
      <h2 id="step-camera">2 · Which camera sees {user}?</h2>
      {!webcam.running ? (
        <p>
          <button type="button" class="primary" onClick={() => void webcam.start()}>
            Use this browser's webcam
          </button>
        </p>
      ) : null}
      {cameras.length ? (
        <label>
          Camera
          <select value={cameraId ?? ''} onChange={(e) => setCameraId((e.target as HTMLSelectElement).value)}>
            <option value="" disabled>
              Choose…
            </option>
            {cameras.map((c) => (
              <option value={c.id}>{c.id === store.webcamCameraId ? `This browser's webcam` : c.name}</option>
            ))}
          </select>
        </label>
      ) : null}
      {cameraId ? (
        <>
          <LiveView
            cameraId={cameraId}
            stream={cameraId === store.webcamCameraId ? webcam.stream : null}
            label={`Live view for calibration`}
            onFaceClick={(face) =>
              void run(() => store.client.command('track.assign', { cameraId, trackId: face.trackId, userId }), `Face #${face.trackId} is now ${user}.`)
            }
          />
          <div class="row">
            <button type="button" onClick={() => void run(() => store.client.command('camera.bind', { cameraId, userId }), `This camera now belongs to ${user}.`)}>
              Bind this camera to {user}
            </button>
            {tracks.map((t) => (
              <button
                type="button"
                onClick={() => void run(() => store.client.command('track.assign', { cameraId, trackId: t.trackId, userId }), `Face #${t.trackId} is now ${user}.`)}
              >
                This is {user}: face #{t.trackId}
              </button>
            ))}
          </div>
          <p class="muted">Or click {user}'s face in the picture.</p>
        </>
      ) : null}
      {message ? (
        <p class={message.ok ? 'ok' : 'field-error'} role={message.ok ? 'status' : 'alert'}>
          {message.ok ? '✓ ' : '⚠ '}
          {message.text}
        </p>
      ) : null}
    </section>
  );
}

function CaptureStep({ store, userId, cameraId }: { store: DashboardStore; userId: string; cameraId: string | null }) {
  useTick(250);
  const [seconds, setSeconds] = useState('3');
  const [error, setError] = useState<string | null>(null);
  const state = store.calibrationOf(userId);
  const start = async () => {
    setError(null);
    if (!cameraId) return setError('Choose a camera first.');
    Object.assign(state, { cameraId, running: true, accepted: {}, captured: null, rejected: 0, lastSample: null, prompt: null });
    store.notify();
    try {
      await store.client.command('calibration.start', { userId, cameraId, secondsPerLabel: Number(seconds) || 3 });
    } catch (err) {
      state.running = false;
      setError(describeError(err));
      store.notify();
    }
  };
  const cancel = async () => {
    try {
      await store.client.command('calibration.cancel', { userId });
    } catch (err) {
      setError(describeError(err));
    }
    state.running = false;
    state.prompt = null;
    store.notify();
  };
  const prompt = state.prompt;
  const left = prompt ? Math.max(0, Math.ceil(prompt.secondsLeft - (Date.now() - state.promptAt) / 1000)) : 0;
  const sample = state.lastSample;
  return (
    <section class="card step" aria-labelledby="step-capture">
      <h2 id="step-capture">3 · Show your expressions</h2>
      <p class="muted">The server asks for each expression in turn and keeps the clear, different shots.</p>
      {state.running ? (
        <div class="prompt" aria-live="assertive" data-label={prompt?.label}>
          {prompt ? (
            <>
              <div class="prompt-emoji" aria-hidden="true">
                {LABEL_EMOJI[prompt.label]}
              </div>
              <div class="prompt-text" style={{ borderColor: LABEL_COLORS[prompt.label] }}>
                {PROMPT_TEXT[prompt.label]}
              </div>
              <div class="prompt-meta">
                Expression {prompt.index + 1} of {prompt.of} · <span class="countdown">{left} s</span>
              </div>
            </>
          ) : (
            <div class="prompt-text">Get ready…</div>
          )}
          {sample ? (
            <div class={`sample sample-${sample.status}`} role="status">
              {sample.status === 'accepted' ? `✓ Kept (${sample.count} ${sample.label})` : `✕ Not kept: ${REJECTION_TEXT[sample.reason ?? ''] ?? sample.reason ?? 'rejected'}`}
            </div>
          ) : null}
        </div>
      ) : null}
      <ul class="counts" aria-label="Samples per expression">
        {LABEL_NAMES.map((l) => {
          const n = (state.captured ?? state.accepted)[l] ?? 0;
          return (
            <li class={n ? 'has' : ''}>
              <span aria-hidden="true">{LABEL_EMOJI[l]}</span> {l}: <strong>{n}</strong>
            </li>
          );
        })}
      </ul>
      {state.captured ? (
        <p class="ok" role="status">
          ✓ Calibration captured. {state.rejected ? `${state.rejected} shots were not kept.` : ''}
        </p>
      ) : null}
      <div class="row">
        {state.running ? (
          <button type="button" onClick={() => void cancel()}>
            Cancel
          </button>
        ) : (
          <>
            <label class="inline">
              Seconds per expression
              <input type="number" min="1" max="60" value={seconds} onInput={(e) => setSeconds((e.target as HTMLInputElement).value)} class="short" />
            </label>
            <button type="button" class="primary" onClick={() => void start()} disabled={!cameraId}>
              {state.captured ? 'Calibrate again' : 'Start calibration'}
            </button>
          </>
        )}
      </div>
      {error ? (
        <p class="field-error" role="alert">
          ⚠ {error}
        </p>
      ) : null}
    </section>
  );
}

function TrainStep({ store, userId }: { store: DashboardStore; userId: string }) {
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
          prompt, good light), or use the general model below.
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

export function CalibratePage() {
  const store = useStore();
  const [cameraId, setCameraId] = useState<string | null>(null);
  const userId = store.selectedUserId;
  const chosenCamera = cameraId && store.cameras.has(cameraId) ? cameraId : store.webcamCameraId;
  return (
    <div class="page">
      <h1>Calibrate: a model that learns you</h1>
      <p class="lead">Four steps, about a minute: pick a person, show the camera their face, make each expression, train.</p>
      <div class="steps">
        <UserStep store={store} />
        {userId ? <CameraStep store={store} userId={userId} cameraId={chosenCamera} setCameraId={setCameraId} /> : null}
        {userId ? <CaptureStep store={store} userId={userId} cameraId={chosenCamera} /> : null}
        {userId ? <TrainStep store={store} userId={userId} /> : null}
      </div>
    </div>
  );
}
