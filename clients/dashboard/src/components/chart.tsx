import { useEffect, useRef } from 'preact/hooks';
import uPlot, { type AlignedData, type Options } from 'uplot';
import 'uplot/dist/uPlot.min.css';

interface ChartProps {
  /** Builds uPlot options for a given width. */
  options: (width: number) => Options;
  /** Called on mount and every `refreshMs` to get fresh data. */
  data: () => AlignedData;
  refreshMs?: number;
  height?: number;
  /** Accessible description of what the chart shows. */
  label: string;
  /** Change to rebuild the chart (different series). */
  deps?: unknown[];
}

/** A uPlot chart that sizes to its container and polls its data (charts update on their own clock, not on renders). */
export function Chart({ options, data, refreshMs = 1000, height = 220, label, deps = [] }: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const dataRef = useRef(data);
  dataRef.current = data;
  useEffect(() => {
    const el = host.current!;
    const width = () => Math.max(240, el.clientWidth);
    const plot = new uPlot({ ...options(width()), height, width: width() }, dataRef.current(), el);
    const timer = setInterval(() => plot.setData(dataRef.current()), refreshMs);
    const resize = new ResizeObserver(() => plot.setSize({ width: width(), height }));
    resize.observe(el);
    return () => {
      clearInterval(timer);
      resize.disconnect();
      plot.destroy();
    };
  }, deps);
  return <div class="chart" ref={host} role="img" aria-label={label} />;
}
