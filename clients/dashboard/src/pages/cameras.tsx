import { useState } from 'preact/hooks';
import { IExpressionError, type CameraView, type FaceResult } from '../../../sdk/src';
import { ClusterPanel, NodeBadge } from '../components/cluster';
import { LiveView } from '../components/live-view';
import { CameraStatus } from '../components/status';
import { faceCaption } from '../overlay';
import { describeError, useStore, useTick } from '../store';
import { webcam } from '../webcam';
import { navigate } from '../router';

const FPS_CHOICES = [1, 2, 5, 10, 15];

/** This browser's webcam: start/stop, fps, and the local video with live boxes. */
export function WebcamPanel({ hero = false }: { hero?: boolean }) {
  const store = useStore();
  useTick(1000);
  const cameraId = store.webcamCameraId;
  const latest = cameraId ? store.latestExpression(cameraId) : undefined;
  return (
    <section class={`card webcam ${hero ? 'hero' : ''}`} aria-labelledby="webcam-title">
      <header class="card-head">
        <h2 id="webcam-title">This browser's webcam</h2>
        {webcam.running ? <CameraStatus state={cameraId ? 'streaming' : 'connecting'} fps={webcam.fps} /> : null}
      </header>
      {hero && !webcam.running ? (
        <p class="lead">
          No cameras yet. Start with your own face: your webcam's frames go to the server, and the boxes and expressions it
          finds are drawn right here.
        </p>
      ) : null}
      {webcam.running && cameraId ? (
        <LiveView
          cameraId={cameraId}
          stream={webcam.stream}
          label="Your webcam with detected faces"
          onFaceClick={(face) => navigate(`/face?camera=${cameraId}&track=${face.trackId}`)}
        />
      ) : null}
      <div class="row">
        {webcam.running ? (
          <button type="button" onClick={() => webcam.stop()}>
            Stop webcam
          </button>
        ) : (
          <button type="button" class="primary" disabled={webcam.starting} onClick={() => void webcam.start()}>
            {webcam.starting ? 'Starting…' : 'Start webcam'}
          </button>
        )}
        <label class="inline">
          Frames per second
          <select value={String(webcam.fps)} onChange={(e) => webcam.setFps(Number((e.target as HTMLSelectElement).value))}>
            {FPS_CHOICES.map((f) => (
              <option value={String(f)}>{f}</option>
            ))}
          </select>
        </label>
        {webcam.running ? (
          <span class="muted" aria-live="off">
            {webcam.stats.sent} frames sent
          </span>
        ) : null}
      </div>
      {webcam.error ? (
        <p class="error" role="alert">
          {webcam.error}
        </p>
      ) : null}
      {latest ? <FaceList cameraId={latest.cameraId} faces={latest.faces} /> : null}
    </section>
  );
}

function FaceList({ cameraId, faces }: { cameraId: string; faces: FaceResult[] }) {
  const store = useStore();
  if (faces.length === 0) return <p class="muted">No face in view.</p>;
  return (
    <ul class="faces" aria-label="Faces in view">
      {faces.map((face) => (
        <li>
          <a href={`#/face?camera=${encodeURIComponent(cameraId)}&track=${face.trackId}`}>
            Face #{face.trackId}: {faceCaption(face, store.userName(face.userId))}
          </a>
        </li>
      ))}
    </ul>
  );
}

function CameraTile({ camera }: { camera: CameraView }) {
  const store = useStore();
  useTick(500);
  const [busy, setBusy] = useState(false);
  const latest = store.latestExpression(camera.id);
  const remove = async () => {
    setBusy(true);
    try {
      await store.client.command('camera.remove', { cameraId: camera.id });
      store.cameras.delete(camera.id);
      store.notify();
    } catch (err) {
      store.toast(`Could not remove ${camera.name}: ${describeError(err)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <article class="card tile" aria-label={`Camera ${camera.name}`} data-camera={camera.id}>
      <header class="card-head">
        <h3>{camera.name}</h3>
        <NodeBadge node={camera.node} />
        <CameraStatus state={camera.status} fps={camera.measuredFps} reason={camera.reason} />
      </header>
      <LiveView
        cameraId={camera.id}
        label={`Live view of ${camera.name}`}
        onFaceClick={(face) => navigate(`/face?camera=${camera.id}&track=${face.trackId}`)}
      />
      <p class="muted url" title={camera.url}>
        {camera.url}
      </p>
      {latest ? <FaceList cameraId={camera.id} faces={latest.faces} /> : null}
      <div class="row">
        {camera.status === 'failed' ? (
          <button type="button" onClick={() => void store.client.command('camera.retry', { cameraId: camera.id }).catch((e) => store.toast(describeError(e)))}>
            Retry
          </button>
        ) : null}
        <button type="button" class="danger" disabled={busy} onClick={() => void remove()} aria-label={`Remove camera ${camera.name}`}>
          Remove
        </button>
      </div>
    </article>
  );
}

type Field = 'url' | 'name' | 'fps' | 'form';

/** Which field a server error is about: invalid_url is the URL; bad_message names its field first ("fps: …"). */
function fieldOf(err: unknown): Field {
  if (err instanceof IExpressionError) {
    if (err.code === 'invalid_url') return 'url';
    const named = /^\s*(url|name|fps)\b/i.exec(err.message) ?? /\b(url|name|fps)\b/i.exec(err.message);
    if (named) return named[1].toLowerCase() as Field;
  }
  return 'form';
}

export function AddCameraForm() {
  const store = useStore();
  const [url, setUrl] = useState('');
  const [name, setName] = useState('');
  const [fps, setFps] = useState('10');
  const [loop, setLoop] = useState(true);
  const isFile = /^\s*file:/i.test(url);
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState<string | null>(null);

  const submit = async (ev: Event) => {
    ev.preventDefault();
    setErrors({});
    setAdded(null);
    if (!url.trim()) return setErrors({ url: 'Enter the camera URL.' });
    setBusy(true);
    try {
      const ack = await store.client.command('camera.add', {
        url: url.trim(),
        ...(name.trim() ? { name: name.trim() } : {}),
        ...(fps ? { fps: Number(fps) } : {}),
        // A video file ends; looping it keeps a demo or test camera streaming.
        ...(isFile ? { loop } : {}),
      });
      if (ack.camera) store.cameras.set(ack.camera.id, ack.camera);
      setAdded(ack.camera?.name ?? name ?? url);
      setUrl('');
      setName('');
      store.notify();
      void store.refresh();
    } catch (err) {
      setErrors({ [fieldOf(err)]: describeError(err) });
    } finally {
      setBusy(false);
    }
  };

  const fieldError = (field: Field) =>
    errors[field] ? (
      <span class="field-error" id={`cam-${field}-error`} role="alert">
        ⚠ {errors[field]}
      </span>
    ) : null;

  return (
    <form class="card add-camera" onSubmit={(e) => void submit(e)} aria-labelledby="add-title" noValidate>
      <h2 id="add-title">Add a camera</h2>
      <label>
        URL
        <input
          name="url"
          value={url}
          onInput={(e) => setUrl((e.target as HTMLInputElement).value)}
          placeholder="rtsp://user:pass@192.168.1.20/stream or file:///videos/door.mp4"
          aria-invalid={errors.url ? 'true' : undefined}
          aria-describedby={errors.url ? 'cam-url-error' : undefined}
          autoComplete="off"
        />
        {fieldError('url')}
      </label>
      <div class="row">
        <label class="grow">
          Name
          <input
            name="name"
            value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
            placeholder="Front door"
            aria-invalid={errors.name ? 'true' : undefined}
            aria-describedby={errors.name ? 'cam-name-error' : undefined}
          />
          {fieldError('name')}
        </label>
        <label class="narrow">
          FPS
          <input
            name="fps"
            type="number"
            inputMode="decimal"
            min="0.1"
            step="any"
            value={fps}
            onInput={(e) => setFps((e.target as HTMLInputElement).value)}
            aria-invalid={errors.fps ? 'true' : undefined}
            aria-describedby={errors.fps ? 'cam-fps-error' : undefined}
          />
          {fieldError('fps')}
        </label>
      </div>
      {isFile ? (
        <label class="check">
          <input type="checkbox" name="loop" checked={loop} onChange={(e) => setLoop((e.target as HTMLInputElement).checked)} />
          Loop the video file
        </label>
      ) : null}
      {fieldError('form')}
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Adding…' : 'Add camera'}
        </button>
        {added ? (
          <span class="ok" role="status">
            ✓ Added {added}
          </span>
        ) : null}
      </div>
    </form>
  );
}

export function CamerasPage() {
  const store = useStore();
  const cameras = [...store.cameras.values()].filter((c) => c.id !== store.webcamCameraId && c.kind !== 'browser');
  const empty = cameras.length === 0;
  return (
    <div class="page">
      <h1 class="visually-hidden">Cameras</h1>
      {empty ? <WebcamPanel hero /> : null}
      <ClusterPanel />
      <div class="grid" aria-label="Cameras">
        {!empty ? <WebcamPanel /> : null}
        {cameras.map((camera) => (
          <CameraTile key={camera.id} camera={camera} />
        ))}
        <AddCameraForm />
      </div>
    </div>
  );
}
