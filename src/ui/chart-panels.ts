/**
 * The monitoring panels of a node's page: each instance's `common.servicerunning` at a click,
 * links to the node's metrics and alarms, and the strategies that apply there (its own and the
 * ones inherited from the nodes above, marked).
 */
import { useState } from 'preact/hooks';
import { listSeries, strategiesAt } from '../api/index.js';
import { formatSelector, parseTag } from '../tree/index.js';
import { html } from './html.js';
import { useLoad } from './load.js';
import { href } from './routes.js';
import { Empty, ErrorBox, Loading, Section, useApi } from './widgets.js';
import { SeriesLines } from './chart-series.js';
import { tagString } from './chart-data.js';
import { strategyRows, type StrategyState } from './chart-strategies.js';

/** The metric each supervised instance reports, 1 while it runs (Falcon's name). */
export const SERVICE_RUNNING = 'common.servicerunning';

/** The strategies are re-read this often. */
const STRATEGIES_REFRESH_MS = 15_000;

/** The most instances charted at once in the panel. */
const PANEL_SERIES = 24;

/** A node's tag as the selector of its pairs: `cop.acme_owt.web` -> `cop=acme,owt=web`. */
export function selectorOfTag(tag: string): string {
  return formatSelector(parseTag(tag));
}

/** The monitoring panels under a node's own content. */
export function NodeMonitoring({ tag }: { tag: string }) {
  const selector = selectorOfTag(tag);
  const [open, setOpen] = useState(false);
  return html`<div class="node-monitoring">
    <${Section} title="Monitoring" id="monitoring" actions=${html`<a href=${href.metrics({ selector })}>metrics</a> · <a href=${href.alarms({ selector })}>alarms</a> · <a href=${href.alarms({ selector, status: 'all' })}>all alarm events</a>`}>
      ${
        open
          ? html`<${RunningChart} selector=${selector} />`
          : html`<button type="button" class="small" onClick=${() => setOpen(true)}>Chart each instance's ${SERVICE_RUNNING}</button>`
      }
    </${Section}>
    <${StrategiesPanel} selector=${selector} />
  </div>`;
}

function RunningChart({ selector }: { selector: string }) {
  const api = useApi();
  const found = useLoad(() => listSeries(api, { selector, metric: SERVICE_RUNNING, limit: PANEL_SERIES }), [selector]);
  if (!found.data)
    return found.error
      ? html`<${ErrorBox} error=${found.error} retry=${found.reload} />`
      : html`<${Loading} what=${`${SERVICE_RUNNING} of the instances`} />`;
  const series = found.data.series;
  if (series.length === 0)
    return html`<${Empty} title=${`No instance under this node has reported ${SERVICE_RUNNING} yet.`}>Agents report it for each supervised instance every collection step.</${Empty}>`;
  return html`<${SeriesLines} series=${series} title=${`${SERVICE_RUNNING} of each instance`} />`;
}

/**
 * The strategies that apply at a node: its own, and those of the nodes above (marked inherited);
 * one replaced by a lower node's for the same metric and tags, or switched off, says so. The
 * server resolves them (`GET /api/v1/strategies?at=S`), as its judge does.
 */
export function StrategiesPanel({ selector }: { selector: string }) {
  const api = useApi();
  const list = useLoad(() => strategiesAt(api, selector), [selector], STRATEGIES_REFRESH_MS);
  const rows = list.data ? strategyRows(list.data) : [];
  const words: Record<StrategyState, string> = { applies: '', overridden: "replaced by a lower node's", off: 'switched off here' };
  return html`<${Section} title=${list.data ? `Strategies (${rows.filter((r) => r.state === 'applies').length})` : 'Strategies'} id="strategies">
    ${list.error ? html`<${ErrorBox} error=${list.error} retry=${list.reload} />` : null}
    ${
      !list.data
        ? list.error
          ? null
          : html`<${Loading} what="the strategies" />`
        : rows.length === 0
          ? html`<${Empty} title="No strategy applies here.">Add one on this node or above: <code>noops strategy add -t ${selector} --metric ${SERVICE_RUNNING} --func "all(#3)" --op "==" --right 0 --priority 2</code>.</${Empty}>`
          : html`<div class="table-wrap"><table class="strategies-table">
        <thead><tr><th>metric</th><th>tags</th><th>condition</th><th class="num">max</th><th>priority</th><th>run</th><th>note</th><th>set on</th></tr></thead>
        <tbody>${rows.map(({ strategy: s, inherited, state }) => {
          return html`<tr key=${String(s.id)} data-strategy=${String(s.id)} data-inherited=${inherited ? 'true' : 'false'} data-state=${state} class=${state === 'applies' ? '' : 'muted'}>
            <td class="mono">${s.metric}${state !== 'applies' ? html` <span class="small">(${words[state]})</span>` : null}</td>
            <td class="mono small">${tagString(s.tags)}</td>
            <td class="mono">${s.off ? 'off' : `${s.func} ${s.op} ${s.right}`}</td>
            <td class="num">${s.maxStep}</td>
            <td>P${s.priority}</td>
            <td class="small">${s.run ?? 'always'}</td>
            <td class="small">${s.note ?? ''}</td>
            <td class="small">${inherited ? html`<span class="inherited" title="set on a node above, applies here too">inherited from <a class="mono" href=${href.metrics({ selector: s.selector, metric: s.metric })}>${s.selector}</a></span>` : html`<span>this node</span>`}</td>
          </tr>`;
        })}</tbody>
      </table></div>`
    }
  </${Section}>`;
}
