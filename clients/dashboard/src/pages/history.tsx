import { useEffect, useRef, useState } from 'preact/hooks';
import type { AlignedData, Options } from 'uplot';
import {
  LABEL_NAMES,
  type HistoryQuery,
  type HistoryResolution,
  type HistorySeriesView,
  type HistorySummaryView,
} from '../../../sdk/src';
import { Chart } from '../components/chart';
import { ShareBars } from '../components/share-bars';
import { LABEL_COLORS, LABEL_EMOJI } from '../labels';
import { describeError, useStore } from '../store';

/** Relative ranges offered first; "custom" shows From/To. */
const PRESETS = [
  { id: '10m', label: 'Last 10 minutes', ms: 10 * 60_000 },
  { id: '1h', label: 'Last hour', ms: 3_600_000 },
  { id: '1d', label: 'Last day', ms: 86_400_000 },
] as const;
type RangeId = (typeof PRESETS)[number]['id'] | 'custom';

/** Bucket sizes the server knows (src/contracts/history.ts HISTORY_RESOLUTIONS), finest first. */
const RESOLUTIONS: { id: HistoryResolution; ms: number }[] = [
  { id: '1s', ms: 1_000 },
  { id: '10s', ms: 10_000 },
  { id: '1min', ms: 60_000 },
  { id: '1h', ms: 3_600_000 },
];
/** Auto picks the finest resolution that keeps the chart at this many points or fewer (well under the server's cap). */
const MAX_POINTS = 1500;
/** Relative ranges follow the clock: re-queried this often while the page is open. */
const REFRESH_MS = 10_000;

/** The finest resolution that draws a range in at most MAX_POINTS buckets. */
export function autoResolution(rangeMs: number): HistoryResolution {
  return (RESOLUTIONS.find((r) => rangeMs / r.ms <= MAX_POINTS) ?? RESOLUTIONS[RESOLUTIONS.length - 1]).id;
}

/** `<input type=datetime-local>` value (local time, minutes) of a time in ms. */
function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/**
 * Stacked series for uPlot: series i is the sum of the first i labels' scores (so the top line is ~1), and a band
 * fills between each series and the one below it in that label's colour. Buckets further apart than one resolution
 * get a null point between them, so an absence is a gap, not a slope.
 */
function stack(series: HistorySeriesView): { data: AlignedData; raw: (number | null)[][] } {
  const step = RESOLUTIONS.find((r) => r.id === series.resolution)?.ms ?? 1000;
  const t: number[] = [];
  const raw: (number | null)[][] = LABEL_NAMES.map(() => []);
  let previous: number | null = null;
  for (const b of series.buckets) {
    if (previous !== null && b.ts - previous > step) {
      t.push((previous + step) / 1000);
      for (const r of raw) r.push(null);
    }
    t.push(b.ts / 1000);
    LABEL_NAMES.forEach((l, i) => raw[i].push(b.scores[l]));
    previous = b.ts;
  }
  const sums: (number | null)[][] = [];
  let below: (number | null)[] = t.map(() => 0);
  for (const r of raw) {
    const sum = r.map((v, i) => (v === null ? null : (below[i] ?? 0) + v));
    sums.push(sum);
    below = sum;
  }
  return { data: [t, ...sums] as AlignedData, raw };
}

function chartOptions(raw: (number | null)[][]) {
  return (width: number): Options => ({
    width,
    height: 260,
    scales: { x: { time: true }, y: { range: [0, 1] } },
    axes: [{ stroke: '#aab', space: 90 }, { stroke: '#aab', values: (_u, v) => v.map((x) => `${Math.round(x * 100)}%`) }],
    // Each band fills between a label's cumulative line and the one below it: the stack of the 7 shares.
    bands: LABEL_NAMES.slice(1).map((_l, i) => ({ series: [i + 2, i + 1] as [number, number] })),
    series: [
      {},
      ...LABEL_NAMES.map((l, i) => ({
        label: `${LABEL_EMOJI[l]} ${l}`,
        stroke: LABEL_COLORS[l],
        fill: `${LABEL_COLORS[l]}66`,
        width: 1.5,
        // The legend shows the label's own score at the cursor, not the stacked sum.
        value: (_u: unknown, _v: number | null, _s: number, idx: number | null) => {
          const v = idx === null ? null : raw[i][idx];
          return v === null || v === undefined ? '–' : `${Math.round(v * 100)}%`;
        },
      })),
    ],
  });
}

interface Loaded {
  /** Who the answer is about (the choice may have changed since the query left). */
  name: string;
  query: HistoryQuery;
  series: HistorySeriesView;
  summary: HistorySummaryView;
}

/** Stored expression history (docs/HISTORY.md): a camera's or a person's stacked scores over a range, label shares, CSV. */
export function HistoryPage() {
  const store = useStore();
  const cameras = [...store.cameras.values()];
  const [subject, setSubject] = useState<string>('');
  const [range, setRange] = useState<RangeId>('10m');
  const [custom, setCustom] = useState(() => ({ from: localInput(Date.now() - 3_600_000), to: localInput(Date.now()) }));
  const [resolution, setResolution] = useState<HistoryResolution | 'auto'>('auto');
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [downloading, setDownloading] = useState(false);
  const [tick, setTick] = useState(0);
  const request = useRef(0);

  // Until something is picked: the first camera (or every camera when there is none).
  const chosen = subject || (cameras[0] ? `camera:${cameras[0].id}` : 'all');
  const [kind, id] = chosen.split(/:(.*)/s) as [string, string | undefined];
  const name = (kind === 'camera' ? store.cameras.get(id!)?.name : kind === 'user' ? store.userName(id ?? null) : 'all cameras') ?? id ?? '';

  /** The query for the current choices; a string when the choices cannot make one. */
  const buildQuery = (): HistoryQuery | string => {
    let from: number;
    let to: number;
    if (range === 'custom') {
      from = Date.parse(custom.from);
      to = Date.parse(custom.to);
      if (Number.isNaN(from) || Number.isNaN(to)) return 'Pick a start and an end.';
    } else {
      to = Date.now();
      from = to - PRESETS.find((p) => p.id === range)!.ms;
    }
    const query: HistoryQuery = { from, to, resolution: resolution === 'auto' ? autoResolution(to - from) : resolution };
    if (kind === 'camera') query.cameraId = id;
    if (kind === 'user') query.userId = id;
    return query;
  };

  useEffect(() => {
    const query = buildQuery();
    if (typeof query === 'string') {
      setError(query);
      return;
    }
    const n = ++request.current;
    setBusy(true);
    const { resolution: _r, ...filter } = query;
    Promise.all([store.rest.history(query), store.rest.historySummary(filter)])
      .then(([series, summary]) => {
        if (n !== request.current) return;
        setLoaded({ name, query, series, summary });
        setError(null);
      })
      .catch((err: unknown) => {
        if (n !== request.current) return;
        // The server's own words: a range too long for the resolution names the coarser ones, from after to, …
        setError(describeError(err));
        setLoaded(null);
      })
      .finally(() => n === request.current && setBusy(false));
  }, [chosen, range, custom.from, custom.to, resolution, tick, store.connection]);

  useEffect(() => {
    if (range === 'custom') return;
    const timer = setInterval(() => setTick((t) => t + 1), REFRESH_MS);
    return () => clearInterval(timer);
  }, [range]);

  /** A plain link cannot carry the Authorization header: fetch with the token, then save the Blob. */
  const download = async () => {
    const query = buildQuery();
    if (typeof query === 'string') return setError(query);
    const { resolution: _r, ...rows } = query;
    setDownloading(true);
    try {
      const response = await store.rest.exportHistory(rows, 'csv');
      const fileName = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? 'history.csv';
      const url = URL.createObjectURL(await response.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = fileName;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      store.toast(`Could not export the history: ${describeError(err)}`);
    } finally {
      setDownloading(false);
    }
  };

  const stacked = loaded ? stack(loaded.series) : null;
  const points = loaded?.series.buckets.length ?? 0;
  const shares = loaded?.summary.total;
  const field = (key: 'from' | 'to') => (e: Event) => setCustom({ ...custom, [key]: (e.target as HTMLInputElement).value });
  const shown = loaded ? `${new Date(loaded.series.from).toLocaleString()} – ${new Date(loaded.series.to).toLocaleString()}` : '';

  return (
    <div class="page">
      <h1>History</h1>
      <form class="row controls" aria-label="History query" onSubmit={(e) => e.preventDefault()}>
        <label class="inline">
          Camera or person
          <select value={chosen} onChange={(e) => setSubject((e.target as HTMLSelectElement).value)}>
            <option value="all">All cameras</option>
            {cameras.length ? (
              <optgroup label="Cameras">
                {cameras.map((c) => (
                  <option value={`camera:${c.id}`}>{c.name}</option>
                ))}
              </optgroup>
            ) : null}
            {store.users.length ? (
              <optgroup label="People">
                {store.users.map((u) => (
                  <option value={`user:${u.id}`}>{u.name}</option>
                ))}
              </optgroup>
            ) : null}
          </select>
        </label>
        <label class="inline">
          Range
          <select value={range} onChange={(e) => setRange((e.target as HTMLSelectElement).value as RangeId)}>
            {PRESETS.map((p) => (
              <option value={p.id}>{p.label}</option>
            ))}
            <option value="custom">Custom…</option>
          </select>
        </label>
        {range === 'custom' ? (
          <>
            <label class="inline">
              From
              <input type="datetime-local" value={custom.from} onChange={field('from')} />
            </label>
            <label class="inline">
              To
              <input type="datetime-local" value={custom.to} onChange={field('to')} />
            </label>
          </>
        ) : null}
        <label class="inline">
          Resolution
          <select value={resolution} onChange={(e) => setResolution((e.target as HTMLSelectElement).value as HistoryResolution | 'auto')}>
            <option value="auto">Auto{loaded && resolution === 'auto' ? ` (${loaded.series.resolution})` : ''}</option>
            {RESOLUTIONS.map((r) => (
              <option value={r.id}>{r.id}</option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => setTick((t) => t + 1)} disabled={busy}>
          {busy ? 'Loading…' : 'Refresh'}
        </button>
        <button type="button" onClick={() => void download()} disabled={downloading}>
          {downloading ? 'Exporting…' : 'Download CSV'}
        </button>
      </form>
      {error ? (
        <p class="field-error" role="alert" data-testid="history-error">
          ⚠ {error}
        </p>
      ) : null}
      {loaded ? (
        <div class="two-col">
          <section class="card" aria-labelledby="history-chart-title" data-points={points} data-resolution={loaded.series.resolution}>
            <h2 id="history-chart-title">Expressions of {loaded.name}</h2>
            <p class="muted">
              {shown} · {loaded.series.resolution} buckets · {points} with faces
            </p>
            {points ? (
              <Chart
                label={`Stacked expression scores of ${loaded.name}, ${shown}`}
                deps={[loaded]}
                refreshMs={3_600_000}
                height={260}
                data={() => stacked!.data}
                options={chartOptions(stacked!.raw)}
              />
            ) : (
              <p>No faces were recorded for {loaded.name} in this range.</p>
            )}
          </section>
          <section class="card" aria-labelledby="history-share-title" data-seconds={shares?.seconds ?? 0}>
            <h2 id="history-share-title">Share of time</h2>
            <p class="muted">{Math.round(shares?.seconds ?? 0)} face-seconds, by dominant expression</p>
            <ShareBars share={(l) => shares?.shares[l] ?? 0} />
          </section>
        </div>
      ) : null}
    </div>
  );
}
