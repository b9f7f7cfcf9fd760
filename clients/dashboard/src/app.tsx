import { useState } from 'preact/hooks';
import { ConnectionBadge } from './components/status';
import { CalibratePage } from './pages/calibrate';
import { CamerasPage } from './pages/cameras';
import { FacePage } from './pages/face';
import { HistoryPage } from './pages/history';
import { WebhooksPage } from './pages/webhooks';
import { useRoute } from './router';
import { useStore } from './store';

function LoginDialog() {
  const store = useStore();
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event) => {
    ev.preventDefault();
    setBusy(true);
    await store.login(token.trim());
    setBusy(false);
  };
  return (
    <div class="modal-backdrop">
      <div class="card modal" role="dialog" aria-modal="true" aria-labelledby="login-title">
      <form class="stack" onSubmit={(e) => void submit(e)}>
        <h2 id="login-title">Sign in to iExpressionNet</h2>
        {/* Tokens are never printed in the server's log: say where they come from. */}
        <p class="muted" id="login-hint">
          This server needs an access token. Ask its operator: tokens are the server's <code>ADMIN_TOKEN</code> or{' '}
          <code>READ_TOKEN</code> environment variables, or are made on the server with{' '}
          <code>npm run token -- create --scope read</code> (or <code>--scope admin</code> to change things), which prints
          the token once.
        </p>
        <label>
          Access token
          <input
            name="token"
            type="password"
            autoComplete="current-password"
            value={token}
            autoFocus
            onInput={(e) => setToken((e.target as HTMLInputElement).value)}
            aria-invalid={store.loginError ? 'true' : undefined}
            aria-describedby={store.loginError ? 'login-error' : undefined}
          />
        </label>
        {store.loginError ? (
          <p class="field-error" id="login-error" role="alert">
            ⚠ {store.loginError}
          </p>
        ) : null}
        <button type="submit" class="primary" disabled={busy || !token.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      </div>
    </div>
  );
}

const NAV = [
  { path: '/cameras', label: 'Cameras' },
  { path: '/face', label: 'Face detail' },
  { path: '/calibrate', label: 'Calibrate' },
  { path: '/history', label: 'History' },
  { path: '/webhooks', label: 'Webhooks' },
];

export function App() {
  const store = useStore();
  const route = useRoute();
  const path = route.path === '/' ? '/cameras' : route.path;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand" aria-label="iExpressionNet">
          <span aria-hidden="true">◉</span> iExpressionNet
        </span>
        <nav aria-label="Main">
          {NAV.map((n) => (
            <a href={`#${n.path}`} aria-current={path === n.path ? 'page' : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
        <ConnectionBadge state={store.connection} />
        {store.connection === 'open' && sessionStorage.getItem('iexpressionnet.token') ? (
          <button type="button" class="link" onClick={() => store.logout()}>
            Sign out
          </button>
        ) : null}
      </header>
      {store.connection === 'reconnecting' ? (
        <div class="banner" role="status">
          Connection lost — reconnecting automatically. Live views resume when the server is back.
        </div>
      ) : null}
      <main id="main" tabIndex={-1}>
        {path === '/face' ? <FacePage route={route} /> : path === '/calibrate' ? <CalibratePage /> : path === '/webhooks' ? <WebhooksPage /> : path === '/history' ? <HistoryPage /> : <CamerasPage />}
      </main>
      <div class="toasts" aria-live="assertive">
        {store.toasts.map((t) => (
          <div class="toast" role="alert">
            <span>{t.text}</span>
            <button type="button" class="link" aria-label="Dismiss message" onClick={() => store.dismiss(t.id)}>
              ✕
            </button>
          </div>
        ))}
      </div>
      {store.needsLogin ? <LoginDialog /> : null}
    </>
  );
}
