/** Calibration step 2: choose the camera (the browser webcam or a server camera) that sees the person. */
import { useState } from 'preact/hooks';
import { LiveView } from '../../components/live-view';
import { describeError, type DashboardStore } from '../../store';
import { webcam } from '../../webcam';

export function CameraStep({ store, userId, cameraId, setCameraId }: { store: DashboardStore; userId: string; cameraId: string | null; setCameraId: (id: string) => void }) {
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
