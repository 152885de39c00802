/**
 * Charts of series as the pages use them: one series with its min/max band and its alarms
 * (`SeriesChart`), several series as one line each (`SeriesLines`), and the range buttons.
 * The history and alarms come from the API; the shaping is chart-data.ts's.
 */
import { useState } from 'preact/hooks';
import { listAlarms, metricHistory, type HistoryView, type SeriesView } from '../api/index.js';
import { LEVELS } from '../tree/index.js';
import { html } from './html.js';
import { useLoad } from './load.js';
import { href } from './routes.js';
import { ErrorBox, Loading, useApi } from './widgets.js';
import { Chart } from './chart.js';
import {
  alarmMarkers,
  alignMany,
  DEFAULT_RANGE,
  isRangeName,
  isRolledUp,
  lastRange,
  RANGES,
  resolutionSeconds,
  shortNumber,
  tagString,
  toColumns,
  type AlarmMarker,
  type Columns,
  type RangeName,
  type TimeRange,
} from './chart-data.js';

/** Charts of a moving range ("the last hour") read themselves again this often. */
export const CHART_REFRESH_MS = 10_000;

/** The most alarms read for one chart's markers. */
const MARKER_ALARMS = 500;

/** What a chart shows: a named range that moves with the clock, or a fixed (zoomed) one. */
export type RangeChoice = { name: RangeName } | { fixed: TimeRange };

/** The range choice of a page's address: `from`-`to` when zoomed, else the named range (DEFAULT_RANGE). */
export function rangeChoice(q: { range?: string; from?: number; to?: number }): RangeChoice {
  if (q.from !== undefined && q.to !== undefined) return { fixed: { from: q.from, to: q.to } };
  return { name: q.range && isRangeName(q.range) ? q.range : DEFAULT_RANGE };
}

function rangeNow(choice: RangeChoice): TimeRange {
  return 'fixed' in choice ? choice.fixed : lastRange(choice.name, Date.now() / 1000);
}

/** The buttons 15m … 30d; the current one pressed; a zoomed range says so. */
export function RangeButtons({ choice, pick }: { choice: RangeChoice; pick: (name: RangeName) => void }) {
  return html`<div class="range-buttons" role="group" aria-label="time range">
    ${Object.keys(RANGES).map(
      (name) =>
        html`<button key=${name} type="button" class="small" aria-pressed=${'name' in choice && choice.name === name ? 'true' : 'false'}
          onClick=${() => pick(name as RangeName)}>${name}</button>`,
    )}
    ${'fixed' in choice ? html`<span class="muted small zoomed">zoomed: ${new Date(choice.fixed.from * 1000).toLocaleString()} – ${new Date(choice.fixed.to * 1000).toLocaleString()} (double-click the chart to go back)</span>` : null}
  </div>`;
}

interface SeriesData {
  range: TimeRange;
  history: HistoryView;
  markers: AlarmMarker[];
  columns: Columns;
  band: boolean;
  resolution: number;
}

/**
 * One series: its average as a line, its min/max as a band when rolled up, its alarms marked.
 * `onZoom`/`onReset` decide where a zoom goes (the page's address, or the panel's own state).
 */
export function SeriesChart({
  seriesKey,
  step,
  choice,
  onZoom,
  onReset,
  height,
}: {
  seriesKey: string;
  step?: number;
  choice: RangeChoice;
  onZoom: (r: TimeRange) => void;
  onReset: () => void;
  height?: number;
}) {
  const api = useApi();
  const data = useLoad<SeriesData>(
    async () => {
      const range = rangeNow(choice);
      const history = await metricHistory(api, { key: seriesKey, from: range.from, to: range.to });
      const resolution = resolutionSeconds(history.resolution, step ?? 0);
      // This series' own events (PROBLEM and OK), only those the token may see.
      const { alarms } = await listAlarms(api, { status: 'all', key: seriesKey, limit: MARKER_ALARMS });
      return {
        range,
        history,
        resolution,
        markers: alarmMarkers(alarms, history, range),
        columns: toColumns(history.points, resolution),
        band: isRolledUp(history.points, resolution, step ?? resolution),
      };
    },
    [seriesKey, choice],
    'name' in choice ? CHART_REFRESH_MS : undefined,
  );
  if (!data.data)
    return data.error
      ? html`<${ErrorBox} error=${data.error} retry=${data.reload} />`
      : html`<${Loading} what=${`the history of ${seriesKey}`} />`;
  const d = data.data;
  const h = d.history;
  const last = h.points.length ? h.points[h.points.length - 1]! : undefined;
  const tags = tagString(h.tags);
  return html`<div class="series-chart" data-key=${seriesKey} data-band=${d.band ? 'true' : 'false'} data-markers=${d.markers.length}>
    <p class="small series-head"><span class="mono">${h.endpoint}</span> · <strong class="mono">${h.metric}</strong>${tags ? html` · <span class="mono muted">${tags}</span>` : null}
      <span class="muted"> · ${h.counterType}${h.counterType !== 'GAUGE' ? ' (per second)' : ''} · ${d.resolution > 0 ? `${d.resolution}s per point` : ''}${d.band ? ', avg with min–max' : ''}${last ? ` · last ${shortNumber(last[1])}` : ''}</span></p>
    ${data.error ? html`<${ErrorBox} error=${data.error} retry=${data.reload} />` : null}
    <${Chart} title=${`${h.endpoint} ${h.metric} ${tags}`} columns=${d.columns} lines=${[{ label: h.metric }]} band=${d.band}
      markers=${d.markers} range=${d.range} onZoom=${onZoom} onReset=${onReset} height=${height} />
  </div>`;
}

/** A line label for a series among others: its host and the tags that tell it apart. */
export function lineLabel(s: Pick<SeriesView, 'endpoint' | 'tags'>): string {
  const tags = tagString(s.tags)
    .split(',')
    .filter((p) => p !== '' && !LEVELS.some((l) => p.startsWith(`${l}=`)))
    .join(',');
  return tags ? `${s.endpoint} ${tags}` : s.endpoint;
}

/** A panel's own range: the one picked with the buttons, and a zoom into it (until reset). */
export interface PanelRange {
  picked: RangeName;
  zoomed?: TimeRange;
}

/** What changes a panel's range: a button, a drag across the chart, a double-click. */
export type PanelRangeEvent = { pick: RangeName } | { zoom: TimeRange } | { reset: true };

/**
 * The panel's range after an event: a pick drops the zoom; a reset goes back to the range picked
 * (not to the default).
 *
 * @example
 *   panelRange({ picked: '6h', zoomed: { from: 1, to: 2 } }, { reset: true }) // { picked: '6h' }
 */
export function panelRange(r: PanelRange, e: PanelRangeEvent): PanelRange {
  if ('pick' in e) return { picked: e.pick };
  if ('zoom' in e) return { picked: r.picked, zoomed: e.zoom };
  return { picked: r.picked };
}

/** What a panel's range shows. */
export function panelChoice(r: PanelRange): RangeChoice {
  return r.zoomed ? { fixed: r.zoomed } : { name: r.picked };
}

/**
 * Several series as one line each on one chart (e.g. each instance's common.servicerunning).
 * A zoom keeps the range picked, so a double-click goes back to it.
 */
export function SeriesLines({ series, title }: { series: readonly SeriesView[]; title: string }) {
  const api = useApi();
  const [range, setRange] = useState<PanelRange>({ picked: DEFAULT_RANGE });
  const on = (e: PanelRangeEvent): void => setRange((r) => panelRange(r, e));
  const choice = panelChoice(range);
  const data = useLoad<{ range: TimeRange; columns: Columns }>(
    async () => {
      const range = rangeNow(choice);
      const answers = await Promise.all(series.map((s) => metricHistory(api, { key: s.key, from: range.from, to: range.to })));
      const resolution = Math.max(1, ...answers.map((a, i) => resolutionSeconds(a.resolution, series[i]!.step)));
      return {
        range,
        columns: alignMany(
          answers.map((a) => a.points),
          resolution,
        ),
      };
    },
    [series.map((s) => s.key).join(' '), choice],
    'name' in choice ? CHART_REFRESH_MS : undefined,
  );
  return html`<div class="series-lines">
    <${RangeButtons} choice=${choice} pick=${(name: RangeName) => on({ pick: name })} />
    ${
      data.data
        ? html`<${Chart} title=${title} columns=${data.data.columns} lines=${series.map((s) => ({ label: lineLabel(s) }))}
          range=${data.data.range} onZoom=${(r: TimeRange) => on({ zoom: r })} onReset=${() => on({ reset: true })} height=${180} />`
        : data.error
          ? html`<${ErrorBox} error=${data.error} retry=${data.reload} />`
          : html`<${Loading} what="the history" />`
    }
    <ul class="plain small series-links">${series.map(
      (s) =>
        html`<li key=${s.key}><a href=${href.metrics({ key: s.key })}>${lineLabel(s)}</a> <span class="muted">last ${shortNumber(s.lastValue)}</span></li>`,
    )}</ul>
  </div>`;
}
