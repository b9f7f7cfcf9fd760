/** Calibration step 3: prompted capture of each expression, with live feedback on every sample. */
import { useState } from 'preact/hooks';
import { LABEL_NAMES } from '../../../../sdk/src';
import { LABEL_COLORS, LABEL_EMOJI } from '../../overlay';
import { describeError, useTick, type DashboardStore } from '../../store';
import { REJECTION_TEXT, PROMPT_TEXT, ROUND_CHOICES, STYLE_TEXT } from './texts';

export function CaptureStep({ store, userId, cameraId }: { store: DashboardStore; userId: string; cameraId: string | null }) {
  useTick(250);
  const [seconds, setSeconds] = useState('3');
  // an index into ROUND_CHOICES; three rounds by default: a model calibrated on one posing style can be worse than the
  // general one on the others (docs/PERSONALIZATION.md, "What does protect P05 and P07")
  const [choice, setChoice] = useState(2);
  const [error, setError] = useState<string | null>(null);
  const state = store.calibrationOf(userId);
  const start = async () => {
    setError(null);
    if (!cameraId) return setError('Choose a camera first.');
    Object.assign(state, { cameraId, running: true, accepted: {}, captured: null, rejected: 0, lastSample: null, prompt: null });
    store.notify();
    try {
      await store.client.command('calibration.start', { userId, cameraId, styles: ROUND_CHOICES[choice].styles, secondsPerLabel: Number(seconds) || 3 });
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
      <p class="muted">
        The server asks for each expression in turn, once per round, and keeps the clear, different shots. Each round asks a different way:
        your model learns how you really look, not one pose.
      </p>
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
              <div class="prompt-style" data-style={prompt.style}>{STYLE_TEXT[prompt.style] ?? prompt.style}</div>
              <div class="prompt-meta">
                {prompt.rounds > 1 ? `Round ${prompt.round + 1} of ${prompt.rounds} · ` : ''}Expression {prompt.index + 1} of {prompt.of} ·{' '}
                <span class="countdown">{left} s</span>
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
          ✓ Calibration captured. {state.rejected ? `${state.rejected} shots were not kept.` : ''} Calibrating again later, in other
          light or on another day, adds to these samples and helps most.
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
              Rounds
              <select value={String(choice)} onChange={(e) => setChoice(Number((e.target as HTMLSelectElement).value))}>
                {ROUND_CHOICES.map((c, i) => (
                  <option value={String(i)}>{c.text}</option>
                ))}
              </select>
            </label>
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
