/**
 * A deployment's hosts as a table, read a page at a time (`GET /deployments/:id/hosts`) beside its
 * summary: every host of a cluster that fits on a page, as before; a larger one shows its first
 * page, "Show more" for the next, and a state filter (the states its hosts are in, with their
 * counts from the summary). The live view and the history's details both use it. The rows are
 * read again when the summary changes (its `index`), as many as are shown.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { type DeploymentHostView, type DeploymentSummary, deploymentHosts, HOST_STATES, type HostRolloutState } from '../../api/index.js';
import { html } from '../html.js';
import { count } from '../format.js';
import { Badge, ErrorBox, useApi } from '../widgets.js';

/** The hosts a page holds: every host of most clusters (a few tens of kB), and few enough to draw at once. */
export const HOSTS_PAGE = 200;
/** The most hosts read again at a change: the server's own page cap (`?limit` is at most 1,000). */
const REREAD_MAX = 1000;

/** What a host's reason cell says: its reason, or a failed result's words (deployments recorded before batched rollouts). */
function reasonOf(r: DeploymentHostView): string {
  if (r.reason) return r.reason;
  return r.result !== r.state && r.result.startsWith('failed') ? r.result.replace(/^failed:?\s*/, '') : '';
}

export function DeploymentHosts({
  summary,
  className,
  highlight = false,
}: {
  summary: DeploymentSummary;
  /** the table's class (the live view's `live-hosts`) */
  className: string;
  /** mark the rows of the batch running now */
  highlight?: boolean;
}) {
  const api = useApi();
  const id = summary.id;
  const [filter, setFilter] = useState<HostRolloutState | ''>('');
  const [rows, setRows] = useState<DeploymentHostView[] | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const shown = useRef(0);
  shown.current = rows?.length ?? 0;

  // The first page (or as many as are shown), again when the summary or the filter changed.
  useEffect(() => {
    let gone = false;
    const limit = Math.min(REREAD_MAX, Math.max(HOSTS_PAGE, shown.current));
    deploymentHosts(api, id, { limit, ...(filter && { states: [filter] }) })
      .then((r) => {
        if (gone) return;
        setRows(r);
        setError(null);
      })
      .catch((err: Error) => {
        if (!gone) setError(err);
      });
    return () => {
      gone = true;
    };
  }, [id, summary.index, filter]);

  const total = filter ? (summary.states[filter] ?? 0) : summary.hostCount;
  const more = async (): Promise<void> => {
    const last = rows?.[rows.length - 1];
    if (!last) return;
    setBusy(true);
    try {
      const page = await deploymentHosts(api, id, { limit: HOSTS_PAGE, after: last.host, ...(filter && { states: [filter] }) });
      setRows((r) => [...(r ?? []), ...page]);
      setError(null);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  const choose = (value: string): void => {
    shown.current = 0;
    setRows(null);
    setFilter(value as HostRolloutState | '');
  };

  const p = summary.progress;
  const batches = p ? p.batches.length : 1;
  const large = summary.hostCount > HOSTS_PAGE || filter !== '';
  const present = HOST_STATES.filter((s) => (summary.states[s] ?? 0) > 0);
  return html`<div class="deploy-hosts">
    ${
      large
        ? html`<p class="small host-filter"><label>hosts in state <select aria-label="hosts in state" value=${filter}
            onChange=${(e: Event) => choose((e.target as HTMLSelectElement).value)}>
          <option value="">any (${summary.hostCount})</option>
          ${present.map((s) => html`<option key=${s} value=${s}>${s} (${summary.states[s]})</option>`)}
          ${filter && !present.includes(filter) ? html`<option value=${filter}>${filter} (0)</option>` : null}
        </select></label></p>`
        : null
    }
    ${error ? html`<${ErrorBox} error=${error} />` : null}
    <table class=${`compact ${className}`}>
      <thead><tr>${batches > 1 ? html`<th>batch</th>` : null}<th>host</th><th>before</th><th>state</th><th>reason</th></tr></thead>
      <tbody>${(rows ?? []).map(
        (r) => html`<tr key=${r.host} data-host=${r.host} data-state=${r.state}
          class=${highlight && p && p.batch === r.batch ? 'current-batch' : ''}>
          ${batches > 1 ? html`<td class="num">${r.batch + 1}</td>` : null}
          <td class="mono">${r.host}</td>
          <td class="mono muted">${r.previous ?? 'nothing'}</td>
          <td><${Badge} status=${r.state} /></td>
          <td class="error-text">${reasonOf(r)}</td>
        </tr>`,
      )}</tbody>
    </table>
    ${rows === null && !error ? html`<p class="loading small">Loading the hosts…</p>` : null}
    ${
      rows !== null && total > rows.length
        ? html`<p class="small muted hosts-more">${rows.length} of ${count(total, filter ? `${filter} host` : 'host')} shown
          <button class="link" disabled=${busy} onClick=${() => void more()}>${busy ? '…' : `Show ${Math.min(HOSTS_PAGE, total - rows.length)} more`}</button></p>`
        : null
    }
  </div>`;
}
