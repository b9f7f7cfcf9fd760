import { useState } from 'preact/hooks';
import type { AlignedData } from 'uplot';
import { LABEL_NAMES } from '../../../sdk/src';
import { Chart } from '../components/chart';
import { IdentityCard } from '../components/identity-card';
import { ShareBars } from '../components/share-bars';
import { faceWho, LABEL_COLORS, LABEL_EMOJI } from '../overlay';
import { navigate, type Route } from '../router';
import { useStore, useTick } from '../store';

const WINDOWS = [1, 5, 10];
/** Dash patterns so series differ by more than colour. */
const DASHES: number[][] = [[], [6, 3], [2, 3], [], [8, 3, 2, 3], [4, 4], [1, 2]];

export function FacePage({ route }: { route: Route }) {
  const store = useStore();
  useTick(1000);
  const [minutes, setMinutes] = useState(5);
  const tracks = [...store.tracks.values()].sort((a, b) => b.lastSeen - a.lastSeen);
  const cameraId = route.params.get('camera') ?? tracks[0]?.cameraId ?? null;
  const trackId = Number(route.params.get('track') ?? tracks.find((t) => t.cameraId === cameraId)?.trackId ?? NaN);
  const key = `${cameraId}/${trackId}`;
  const history = store.tracks.get(key);
  const cameraName = (id: string) => store.cameras.get(id)?.name ?? (id === store.webcamCameraId ? 'This browser' : id);

  if (tracks.length === 0) {
    return (
      <div class="page">
        <h1>Face detail</h1>
        <p class="lead">No face seen yet. Start your webcam or add a camera, and faces will appear here.</p>
        <a class="button" href="#/cameras">
          Go to cameras
        </a>
      </div>
    );
  }

  const total = history ? LABEL_NAMES.reduce((sum, l) => sum + history.counts[l], 0) : 0;
  const chartData = (): AlignedData => {
    const h = store.tracks.get(key);
    if (!h) return [[], ...LABEL_NAMES.map(() => [])];
    const start = h.t.findIndex((t) => t >= Date.now() / 1000 - minutes * 60);
    const from = start < 0 ? h.t.length : start;
    return [h.t.slice(from), ...LABEL_NAMES.map((l) => h.scores[l].slice(from))];
  };

  return (
    <div class="page">
      <h1>Face detail</h1>
      <div class="row controls">
        <label class="inline">
          Face
          <select
            value={key}
            onChange={(e) => {
              const [cam, track] = (e.target as HTMLSelectElement).value.split('/');
              navigate(`/face?camera=${encodeURIComponent(cam)}&track=${track}`);
            }}
          >
            {tracks.map((t) => (
              <option value={`${t.cameraId}/${t.trackId}`}>
                {cameraName(t.cameraId)} · face #{t.trackId} · {faceWho(t, store.userName(t.userId))}
              </option>
            ))}
          </select>
        </label>
        <label class="inline">
          Last
          <select value={String(minutes)} onChange={(e) => setMinutes(Number((e.target as HTMLSelectElement).value))}>
            {WINDOWS.map((m) => (
              <option value={String(m)}>{m} min</option>
            ))}
          </select>
        </label>
        {history ? (
          <span class="now">
            Now: <strong>{LABEL_EMOJI[history.lastLabel]} {history.lastLabel}</strong> · {faceWho(history, store.userName(history.userId))}
          </span>
        ) : null}
      </div>
      {history ? (
        <div class="two-col">
          <section class="card" aria-labelledby="timeline-title">
            <h2 id="timeline-title">Expression over time</h2>
            <Chart
              label={`Expression scores of face ${trackId} over the last ${minutes} minutes`}
              deps={[key, minutes]}
              refreshMs={500}
              data={chartData}
              options={(width) => ({
                width,
                height: 240,
                // Names only: values at the cursor read "–" most of the time, which looks like missing data.
                legend: { live: false },
                // At least 30 s wide, so the first seconds of a face do not fill the chart with millisecond ticks.
                scales: { x: { time: true, range: (_u, min, max) => [Math.min(min, max - 30), max] }, y: { range: [0, 1] } },
                axes: [
                  { stroke: '#aab', space: 80, values: (_u, v) => v.map((t) => clock(t)) },
                  { stroke: '#aab', values: (_u, v) => v.map((x) => `${Math.round(x * 100)}%`) },
                ],
                series: [
                  {},
                  ...LABEL_NAMES.map((l, i) => ({
                    label: l,
                    stroke: LABEL_COLORS[l],
                    width: 2,
                    dash: DASHES[i],
                    value: (_u: unknown, v: number | null) => (v === null ? '–' : `${Math.round(v * 100)}%`),
                  })),
                ],
              })}
            />
          </section>
          <section class="card" aria-labelledby="dist-title">
            <h2 id="dist-title">This session</h2>
            <p class="muted">{total} frames of face #{trackId}</p>
            <ShareBars share={(l) => (total ? history.counts[l] / total : 0)} />
          </section>
        </div>
      ) : (
        <p>That face is not in view any more; pick another.</p>
      )}
      {/* A face counts as in view while its events are recent (capture time, same clock as the server's). */}
      {history ? <IdentityCard store={store} history={history} inView={Date.now() - history.lastSeen < 5000} /> : null}
    </div>
  );
}

/** uPlot time (seconds since epoch) as a local wall-clock time, HH:MM:SS. */
function clock(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
}
