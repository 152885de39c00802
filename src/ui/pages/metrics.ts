/**
 * The metrics page (`#/metrics`): find series by selector (tag pairs), host and metric, chart any
 * of them (uPlot: drag to zoom, double-click to go back; avg with the min/max band when rolled
 * up; its alarms marked), and a host's base metrics at a click (`#/metrics?host=H`). Everything
 * it shows is in its address, so a chart is a link.
 */
import { useState } from 'preact/hooks';
import { listSeries, type SeriesView } from '../../api/index.js';
import { html } from '../html.js';
import { useLoad } from '../load.js';
import { href, type MetricsQuery } from '../routes.js';
import { Ago, Empty, ErrorBox, Loading, Section, useApi } from '../widgets.js';
import { RangeButtons, rangeChoice, SeriesChart, type RangeChoice } from '../chart-series.js';
import { shortNumber, tagString, type RangeName, type TimeRange } from '../chart-data.js';

/** The base metrics a host's page charts, as the agent names them (Falcon's). */
export const BASE_METRICS = ['cpu.idle', 'mem.memfree.percent', 'load.1min', 'df.bytes.free.percent'] as const;

/** The most series listed at once (narrow by selector, host or metric for the others). */
export const SERIES_LIMIT = 200;

/** The series list is re-read this often: a new series shows within seconds. */
export const SERIES_REFRESH_MS = 15_000;

function go(to: string): void {
  location.hash = to;
}

function isoOf(seconds: number | null): string | null {
  return seconds ? new Date(seconds * 1000).toISOString() : null;
}

export function MetricsPage({ q }: { q: MetricsQuery }) {
  const api = useApi();
  document.title = 'metrics · noops';
  const baseOfHost = q.host !== undefined && !q.metric && !q.selector && !q.key;
  const list = useLoad(
    () => listSeries(api, { selector: q.selector, host: q.host, metric: q.metric, limit: SERIES_LIMIT }),
    [q.selector, q.host, q.metric],
    SERIES_REFRESH_MS,
  );
  const series = list.data?.series ?? [];
  const charted = q.key ? series.find((s) => s.key === q.key) : undefined;
  const choice = rangeChoice(q);
  const keep = { selector: q.selector, host: q.host, metric: q.metric };
  // the zoomed address keeps the range picked, so a double-click goes back to it (from-to win while zoomed)
  const zoomTo = (key: string) => (r: TimeRange) => go(href.metrics({ ...keep, key, range: q.range, from: r.from, to: r.to }));
  const pick = (key?: string) => (name: RangeName) => go(href.metrics({ ...keep, key, range: name }));

  return html`<div class="page metrics-page">
    <header class="page-head">
      <h1>Metrics</h1>
      <p class="summary muted">Every series the agents and pushes report, by tag, host and metric. Drag across a chart to zoom, double-click to go back.</p>
    </header>
    <${Finder} q=${q} />
    ${
      q.key
        ? html`<${Section} title="Chart" id="chart">
      <${RangeButtons} choice=${choice} pick=${pick(q.key)} />
      <${SeriesChart} key=${q.key} seriesKey=${q.key} step=${charted?.step} choice=${choice} onZoom=${zoomTo(q.key)} onReset=${() => go(href.metrics({ ...keep, key: q.key, range: q.range }))} height=${280} />
    </${Section}>`
        : null
    }
    ${baseOfHost ? html`<${HostBase} host=${q.host!} series=${series} choice=${choice} pick=${pick()} />` : null}
    <${Section} title=${list.data ? `Series (${series.length}${series.length >= SERIES_LIMIT ? '+' : ''})` : 'Series'}>
      ${list.error ? html`<${ErrorBox} error=${list.error} retry=${list.reload} />` : null}
      ${
        !list.data
          ? list.error
            ? null
            : html`<${Loading} what="the series" />`
          : series.length === 0
            ? html`<${Empty} title="No series matches.">Agents report their host's metrics every minute; applications push theirs with <code>POST /api/v1/push</code> (Open-Falcon's format).</${Empty}>`
            : html`<${SeriesTable} series=${series} q=${q} />`
      }
    </${Section}>
  </div>`;
}

/** The selector, host and metric boxes; Enter or "Find" puts them in the address. */
function Finder({ q }: { q: MetricsQuery }) {
  const [selector, setSelector] = useState(q.selector ?? '');
  const [host, setHost] = useState(q.host ?? '');
  const [metric, setMetric] = useState(q.metric ?? '');
  const submit = (e: Event): void => {
    e.preventDefault();
    go(href.metrics({ selector: selector.trim(), host: host.trim(), metric: metric.trim() }));
  };
  const box = (id: string, label: string, value: string, set: (v: string) => void, hint: string) =>
    html`<label class="field" for=${id}><span>${label}</span><input id=${id} value=${value} placeholder=${hint} onInput=${(e: Event) => set((e.target as HTMLInputElement).value)} /></label>`;
  return html`<form class="panel finder" onSubmit=${submit} aria-label="find series">
    ${box('m-selector', 'Selector', selector, setSelector, 'cop=acme,owt=web')}
    ${box('m-host', 'Host', host, setHost, 'h1')}
    ${box('m-metric', 'Metric', metric, setMetric, 'cpu.idle')}
    <button type="submit">Find</button>
  </form>`;
}

function SeriesTable({ series, q }: { series: readonly SeriesView[]; q: MetricsQuery }) {
  const keep = { selector: q.selector, host: q.host, metric: q.metric };
  return html`<div class="table-wrap"><table class="series-table">
    <thead><tr><th>host</th><th>metric</th><th>tags</th><th>type</th><th class="num">step</th><th class="num">last value</th><th>last point</th><th></th></tr></thead>
    <tbody>${series.map(
      (s) => html`<tr key=${s.key} data-key=${s.key} aria-current=${s.key === q.key ? 'true' : undefined}>
      <td class="mono"><a href=${href.metrics({ host: s.endpoint })} title="this host's base metrics">${s.endpoint}</a></td>
      <td class="mono">${s.metric}</td>
      <td class="mono small tags-cell">${tagString(s.tags)}</td>
      <td class="small">${s.counterType}</td>
      <td class="num">${s.step}s</td>
      <td class="num">${shortNumber(s.lastValue)}</td>
      <td><${Ago} iso=${isoOf(s.lastTs)} /></td>
      <td><a class="chart-link" href=${href.metrics({ ...keep, key: s.key, range: q.range })}>chart</a></td>
    </tr>`,
    )}</tbody>
  </table></div>`;
}

/** A host's base metrics, one chart each (a metric with several series, like df per mount: each). */
function HostBase({
  host,
  series,
  choice,
  pick,
}: {
  host: string;
  series: readonly SeriesView[];
  choice: RangeChoice;
  pick: (n: RangeName) => void;
}) {
  const base = series.filter((s) => (BASE_METRICS as readonly string[]).includes(s.metric));
  const order = (s: SeriesView): number => (BASE_METRICS as readonly string[]).indexOf(s.metric);
  base.sort((a, b) => order(a) - order(b) || tagString(a.tags).localeCompare(tagString(b.tags)));
  return html`<${Section} title=${`Base metrics of ${host}`} id="host-base">
    <${RangeButtons} choice=${choice} pick=${pick} />
    ${
      base.length === 0
        ? html`<${Empty} title=${`No base metrics from ${host} yet.`}>The agent reports ${BASE_METRICS.join(', ')} every collection step.</${Empty}>`
        : html`<div class="chart-grid">${base.map(
            (s) => html`<div key=${s.key}>
            <${SeriesChart} seriesKey=${s.key} step=${s.step} choice=${choice} height=${160}
              onZoom=${(r: TimeRange) => go(href.metrics({ host, key: s.key, from: r.from, to: r.to }))}
              onReset=${() => go(href.metrics({ host }))} />
            <a class="small" href=${href.metrics({ host, key: s.key })}>open this chart</a>
          </div>`,
          )}</div>`
    }
  </${Section}>`;
}
