/** Face detail: who this face is and why (docs/IDENTITY.md "Precedence"), and "This is …" to enrol it (admin). */
import { useState } from 'preact/hooks';
import type { FaceIdentity } from '../../../sdk/src';
import { enrolLiveFace } from '../enrol';
import { describeError, type DashboardStore, type TrackHistory } from '../store';

/** Where the identity came from, in words. */
export function identitySource(identity: FaceIdentity | null | undefined): string {
  switch (identity?.source) {
    case 'face': {
      const numbers = [
        identity.distance !== undefined ? `distance ${identity.distance.toFixed(3)}` : null,
        identity.margin !== undefined ? `${Math.round(identity.margin * 100)}% nearer than the next person` : null,
      ].filter(Boolean);
      return `Recognised by face${numbers.length ? ` (${numbers.join(', ')})` : ''}.`;
    }
    case 'camera':
      return "The camera's bound user (camera.bind): no enrolled face was recognised, or recognition is off.";
    case 'track':
      return 'Assigned to this face by a command (track.assign): that wins over recognition until the face leaves.';
    default:
      return identity === undefined
        ? 'Face recognition is off on this server (IDENTITY=off).'
        : 'No enrolled face matches, and the camera is bound to nobody.';
  }
}

export function IdentityCard({ store, history, inView }: { store: DashboardStore; history: TrackHistory; inView: boolean }) {
  const [userId, setUserId] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const name = history.userId ? store.userName(history.userId) : null;
  const chosen = store.users.find((u) => u.id === userId) ?? null;

  const enrol = async (ev: Event) => {
    ev.preventDefault();
    if (!chosen) return setMessage({ ok: false, text: 'Choose who this is first.' });
    setBusy(true);
    setMessage(null);
    try {
      await enrolLiveFace(store, history.cameraId, history.trackId, chosen.id);
      setMessage({ ok: true, text: `Enrolled this face as ${chosen.name}. Recognition uses it from the next check (about a second).` });
    } catch (err) {
      setMessage({ ok: false, text: describeError(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="who-title" data-testid="identity">
      <h2 id="who-title">Who is this?</h2>
      <p class="who">
        <strong data-testid="identity-name">{name ?? 'unknown'}</strong>
        {history.identity?.source ? <span class="badge source">{history.identity.source}</span> : null}
        {name ? <span class="muted">{history.personalized ? ' · personal model' : ' · general model'}</span> : null}
      </p>
      <p class="muted" data-testid="identity-source">
        {identitySource(history.identity)}
      </p>
      <form class="row" onSubmit={(e) => void enrol(e)}>
        <label class="grow">
          This is
          <select name="enrol-user" value={userId} onChange={(e) => setUserId((e.target as HTMLSelectElement).value)}>
            <option value="">Choose a person…</option>
            {store.users.map((u) => (
              <option value={u.id}>{u.name}</option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={busy || !inView || !userId}>
          {busy ? 'Enrolling…' : 'Enrol this face'}
        </button>
      </form>
      <p class="muted">
        {inView
          ? 'Stores this face, as the camera sees it now, for recognition (admin). No person yet? Add one on Calibrate.'
          : 'This face is not in view: enrol it while it is.'}
      </p>
      {message ? (
        <p class={message.ok ? 'ok' : 'field-error'} role={message.ok ? 'status' : 'alert'}>
          {message.ok ? '✓ ' : '⚠ '}
          {message.text}
        </p>
      ) : null}
    </section>
  );
}
