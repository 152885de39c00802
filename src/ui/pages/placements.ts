/**
 * A scheduled cluster's placement history (issue 18; docs/scheduler.md, "History"): every
 * placement, migration, drain, rebalance move and stale copy stopped, with its reason, newest
 * first. Shown on the cluster's page under its deploy history.
 */
import type { PlacementEventView } from '../../api/index.js';
import { clusterPlacements } from '../../api/index.js';
import { html } from '../html.js';
import { useLoad } from '../load.js';
import { when } from '../format.js';
import { Ago, Empty, ErrorBox, Section, useApi } from '../widgets.js';

/** How many placement events the page shows. */
export const PLACEMENT_ROWS = 100;
/** Re-read this often: the scheduler moves instances on its own. */
export const PLACEMENT_REFRESH_MS = 5_000;

/** What each kind means, as a title on its cell. */
const KIND_TITLES: Record<PlacementEventView['kind'], string> = {
  place: 'placed when the cluster was first scheduled',
  scale: 'the count changed (noops scale, cluster set --count)',
  migrate: 'its host was unheard for down_after: moved elsewhere',
  drain: 'its host drains (noops host drain): moved elsewhere',
  rebalance: 'moved by noops rebalance',
  stale: 'a copy on a host that came back, stopped',
};

/** The table of events. */
export function PlacementsTable({ rows }: { rows: PlacementEventView[] }) {
  if (rows.length === 0)
    return html`<${Empty} title="No placements yet.">The scheduler records here where it places, moves and stops this cluster's instances, and why.</${Empty}>`;
  return html`<div class="table-wrap"><table class="placements">
    <thead><tr><th>when</th><th>kind</th><th>from</th><th>to</th><th>reason</th></tr></thead>
    <tbody>${rows.map(
      (e) => html`<tr key=${e.id} class=${`placement-row kind-${e.kind}`} data-id=${e.id}>
        <td><span title=${when(e.at)}>${when(e.at)}</span> <span class="muted small">(<${Ago} iso=${e.at} />)</span></td>
        <td title=${KIND_TITLES[e.kind]}>${e.kind}</td>
        <td class="mono">${e.from ?? '—'}</td>
        <td class="mono">${e.to ?? '—'}</td>
        <td>${e.reason}</td>
      </tr>`,
    )}</tbody>
  </table></div>`;
}

/** The section on a scheduled cluster's page. */
export function PlacementHistory({ tag }: { tag: string }) {
  const api = useApi();
  const events = useLoad(() => clusterPlacements(api, tag, { limit: PLACEMENT_ROWS }), [tag], PLACEMENT_REFRESH_MS);
  return html`<${Section} title="Placement history" id="placements">
    ${events.error ? html`<${ErrorBox} error=${events.error} retry=${events.reload} />` : null}
    ${events.data ? html`<${PlacementsTable} rows=${events.data} />` : null}
  </${Section}>`;
}
