/**
 * The monitoring panels of a node's page: each instance's `common.servicerunning` at a click,
 * links to the node's metrics and alarms, and the strategies that apply there (its own and the
 * ones inherited from the nodes above, marked).
 */
import { useState } from 'preact/hooks';
import { formatSelector, parseSelector, parseTag } from '../tree/index.js';
import { html } from './html.js';
import { useLoad } from './load.js';
import { href } from './routes.js';
import { Empty, ErrorBox, Loading, Section, useApi } from './widgets.js';
import { metricSeries, strategyList, type StrategyRowView } from './chart-api.js';
import { SeriesLines } from './chart-series.js';
import { tagString } from './chart-data.js';

/** The metric each supervised instance reports, 1 while it runs (Falcon's name). */
export const SERVICE_RUNNING = 'common.servicerunning';

/** The most instances charted at once in the panel. */
const PANEL_SERIES = 24;

/** A node's tag as the selector of its pairs: `cop.acme_owt.web` -> `cop=acme,owt=web`. */
export function selectorOfTag(tag: string): string {
  return formatSelector(parseTag(tag));
}

/** A selector in its canonical form, or as written when it does not parse. */
function canonical(selector: string): string {
  try {
    return formatSelector(parseSelector(selector));
  } catch {
    return selector.trim();
  }
}

/** True when a strategy comes from a node above `selector` (not set on this node itself). */
export function isInherited(strategy: Pick<StrategyRowView, 'selector'>, selector: string): boolean {
  return canonical(strategy.selector) !== canonical(selector);
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
  const found = useLoad(() => metricSeries(api, { selector, metric: SERVICE_RUNNING, limit: PANEL_SERIES }), [selector]);
  if (!found.data)
    return found.error
      ? html`<${ErrorBox} error=${found.error} retry=${found.reload} />`
      : html`<${Loading} what=${`${SERVICE_RUNNING} of the instances`} />`;
  const series = found.data.series;
  if (series.length === 0)
    return html`<${Empty} title=${`No instance under this node has reported ${SERVICE_RUNNING} yet.`}>Agents report it for each supervised instance every collection step.</${Empty}>`;
  return html`<${SeriesLines} series=${series} title=${`${SERVICE_RUNNING} of each instance`} />`;
}

/** The strategies that apply at a node: its own, and those of the nodes above (marked inherited). */
export function StrategiesPanel({ selector }: { selector: string }) {
  const api = useApi();
  const list = useLoad(() => strategyList(api, selector), [selector], 15_000);
  const rows = list.data?.strategies ?? [];
  return html`<${Section} title=${list.data ? `Strategies (${rows.length})` : 'Strategies'} id="strategies">
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
        <tbody>${rows.map((s) => {
          const inherited = isInherited(s, selector);
          return html`<tr key=${String(s.id)} data-strategy=${String(s.id)} data-inherited=${inherited ? 'true' : 'false'} class=${s.off ? 'muted' : ''}>
            <td class="mono">${s.metric}${s.off ? html` <span class="small">(switched off here)</span>` : null}</td>
            <td class="mono small">${tagString(s.tags)}</td>
            <td class="mono">${s.func} ${s.op} ${s.right}</td>
            <td class="num">${s.maxStep}</td>
            <td>P${s.priority}</td>
            <td class="small">${s.run ?? 'always'}</td>
            <td class="small">${s.note ?? ''}</td>
            <td class="small">${inherited ? html`<span class="inherited" title="set on a node above, applies here too">inherited from <span class="mono">${s.selector}</span></span>` : html`<span>this node</span>`}</td>
          </tr>`;
        })}</tbody>
      </table></div>`
    }
  </${Section}>`;
}
