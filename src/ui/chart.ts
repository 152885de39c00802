/**
 * A time-series chart drawn by uPlot (served by the server from node_modules, never a CDN, and
 * loaded only when a page draws a chart). Drag across it to zoom (the page reads that range
 * again, at a finer resolution); double-click to go back to the range the page asked for. Alarms
 * are vertical lines: red for PROBLEM, green for OK, listed under the chart too.
 *
 * @example
 *   html`<${Chart} columns=${cols} lines=${[{ label: 'cpu.idle' }]} band=${true} range=${r}
 *     markers=${m} onZoom=${setRange} onReset=${reset} />`
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { html } from './html.js';
import { shortNumber, zoomTo, type AlarmMarker, type Columns, type TimeRange } from './chart-data.js';

/** One drawn line: its legend label. */
export interface ChartLine {
  label: string;
}

/** The narrowest range a drag may zoom to, in seconds. */
export const MIN_ZOOM_SECONDS = 10;

/** Line colours, in turn (readable on light and dark). */
const PALETTE = ['#1f6feb', '#bf3989', '#1a7f37', '#b35900', '#8250df', '#0a7ea4', '#cf222e', '#6e7781'];

type UPlotClass = typeof uPlot;
let loading: Promise<UPlotClass> | undefined;

/** uPlot's module, imported once, when the first chart is drawn. */
function loadUPlot(): Promise<UPlotClass> {
  loading ??= import('uplot').then((m) => m.default);
  return loading;
}

export interface ChartProps {
  /** uPlot's columns: times, then one per line (with `band`: avg, min, max of one line) */
  columns: Columns;
  lines: readonly ChartLine[];
  /** the one line's min and max (columns 2 and 3) as a shaded band around it */
  band?: boolean;
  markers?: readonly AlarmMarker[];
  /** the range shown: the x axis spans it even where there are no points */
  range: TimeRange;
  onZoom?: (range: TimeRange) => void;
  onReset?: () => void;
  height?: number;
  /** the chart's name for screen readers */
  title: string;
}

export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props);
  latest.current = props;
  const [failed, setFailed] = useState<Error | null>(null);
  const points = props.columns[0].length;

  useEffect(() => {
    let dead = false;
    loadUPlot().then(
      (UPlot) => {
        if (dead || !box.current) return;
        plot.current?.destroy();
        plot.current = new UPlot(options(latest, box.current.clientWidth || 600), props.columns as uPlot.AlignedData, box.current);
      },
      (err: Error) => !dead && setFailed(err),
    );
    return () => {
      dead = true;
      plot.current?.destroy();
      plot.current = null;
    };
  }, [props.columns, props.range.from, props.range.to, props.band, props.lines.length, props.markers]);

  useEffect(() => {
    const el = box.current;
    if (!el || typeof ResizeObserver === 'undefined') return undefined;
    const watch = new ResizeObserver(() => {
      const p = plot.current;
      if (p && el.clientWidth > 0 && el.clientWidth !== p.width) p.setSize({ width: el.clientWidth, height: p.height });
    });
    watch.observe(el);
    return () => watch.disconnect();
  }, []);

  const markers = props.markers ?? [];
  return html`<figure class="chart" aria-label=${props.title} data-from=${props.range.from} data-to=${props.range.to} data-points=${points}>
    <div class="chart-plot" ref=${box} onDblClick=${() => props.onReset?.()}></div>
    ${failed ? html`<p class="error-text small">The chart could not be drawn: ${failed.message}</p>` : null}
    ${points === 0 ? html`<p class="muted small chart-empty">No points in this range.</p>` : null}
    ${
      markers.length > 0
        ? html`<ul class="chart-alarms plain small">${markers.map(
            (m) => html`<li key=${m.id} data-alarm=${m.id} class=${m.status === 'OK' ? 'ok' : 'bad'}>
              <span class="marker-tick"></span> ${new Date(m.ts * 1000).toLocaleString()} · ${m.label}
            </li>`,
          )}</ul>`
        : null
    }
  </figure>`;
}

/** uPlot's options for the props as they are now (read through a ref, so hooks see the latest). */
function options(latest: { current: ChartProps }, width: number): uPlot.Options {
  const p = latest.current;
  const css = getComputedStyle(document.documentElement);
  const text = css.getPropertyValue('--muted').trim() || '#5b6470';
  const grid = css.getPropertyValue('--line').trim() || '#d8dde3';
  const bad = css.getPropertyValue('--bad').trim() || '#cf222e';
  const ok = css.getPropertyValue('--ok').trim() || '#1a7f37';
  const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const series: uPlot.Series[] = [{}];
  if (p.band) {
    const colour = PALETTE[0]!;
    series.push(
      { label: `${p.lines[0]?.label ?? 'value'} (avg)`, stroke: colour, width: 1.5, spanGaps: false, value: (_u, v) => shortNumber(v) },
      { label: 'min', stroke: `${colour}55`, width: 1, spanGaps: false, value: (_u, v) => shortNumber(v) },
      { label: 'max', stroke: `${colour}55`, width: 1, spanGaps: false, value: (_u, v) => shortNumber(v) },
    );
  } else {
    p.lines.forEach((l, i) => {
      series.push({ label: l.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false, value: (_u, v) => shortNumber(v) });
    });
  }
  return {
    width,
    height: p.height ?? 220,
    series,
    bands: p.band ? [{ series: [3, 2], fill: `${PALETTE[0]}22` }] : [],
    scales: {
      x: { time: true, range: () => [latest.current.range.from, latest.current.range.to] },
    },
    axes: [{ ...axis }, { ...axis, size: 56, values: (_u, ticks) => ticks.map((t) => shortNumber(t)) }],
    cursor: { drag: { x: true, y: false, setScale: false } },
    legend: { live: true },
    hooks: {
      setSelect: [
        (u) => {
          if (u.select.width <= 0) return;
          const picked = zoomTo(u.posToVal(u.select.left, 'x'), u.posToVal(u.select.left + u.select.width, 'x'), MIN_ZOOM_SECONDS);
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          if (picked) latest.current.onZoom?.(picked);
        },
      ],
      draw: [
        (u) => {
          const marks = latest.current.markers ?? [];
          if (marks.length === 0) return;
          const { ctx } = u;
          const { top, height } = u.bbox;
          ctx.save();
          ctx.lineWidth = Math.max(1, devicePixelRatio);
          for (const m of marks) {
            const x = Math.round(u.valToPos(m.ts, 'x', true));
            ctx.strokeStyle = m.status === 'OK' ? ok : bad;
            ctx.fillStyle = ctx.strokeStyle;
            ctx.setLineDash(m.status === 'OK' ? [4 * devicePixelRatio, 3 * devicePixelRatio] : []);
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            ctx.beginPath();
            const s = 5 * devicePixelRatio;
            ctx.moveTo(x - s, top);
            ctx.lineTo(x + s, top);
            ctx.lineTo(x, top + s * 1.4);
            ctx.fill();
          }
          ctx.restore();
        },
      ],
    },
  };
}
