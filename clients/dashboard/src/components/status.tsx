import type { CameraStateName, ConnectionState } from '../../../sdk/src';

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  unauthorized: 'Signed out',
  closed: 'Disconnected',
};
const CONNECTION_ICON: Record<ConnectionState, string> = {
  idle: '○',
  connecting: '◌',
  open: '●',
  reconnecting: '◌',
  unauthorized: '⊘',
  closed: '○',
};

export function ConnectionBadge({ state }: { state: ConnectionState }) {
  return (
    <span class={`badge conn-${state}`} role="status" aria-live="polite" data-state={state}>
      <span aria-hidden="true">{CONNECTION_ICON[state]}</span> {CONNECTION_TEXT[state]}
    </span>
  );
}

const CAMERA_ICON: Record<CameraStateName, string> = {
  connecting: '◌',
  streaming: '●',
  reconnecting: '↻',
  failed: '✕',
  stopped: '■',
};

export function CameraStatus({ state, fps, reason }: { state: CameraStateName; fps?: number; reason?: string }) {
  return (
    <span class={`badge cam-${state}`} title={reason}>
      <span aria-hidden="true">{CAMERA_ICON[state]}</span> {state}
      {state === 'streaming' && fps ? ` · ${fps.toFixed(1)} fps` : ''}
      {reason ? ` — ${reason}` : ''}
    </span>
  );
}
