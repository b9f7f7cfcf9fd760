/** Calibration step 1: pick or create the person to calibrate. */
import { useState } from 'preact/hooks';
import { describeError, type DashboardStore } from '../../store';

export function UserStep({ store }: { store: DashboardStore }) {
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
              <span class="muted">
                {u.activeVersion ? ` · personal model v${u.activeVersion}` : ' · general model'}
                {` · ${u.faces === 1 ? '1 face' : `${u.faces} faces`} enrolled`}
              </span>
              {u.reenrol ? (
                <span class="reenrol" data-testid="reenrol">
                  ⚠ Not recognisable yet: {u.name}'s samples predate face recognition. Add new samples, or enrol a face seen
                  live ("This is …" on Face detail).
                </span>
              ) : null}
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
