/**
 * The deploy history as the talk's table (slide 1.7): version, who, when, how many machines,
 * how it ended, the cluster.conf and host list behind each row, and on every row a button
 * "Roll back to this version" that asks before it does anything (none without `onRollback`:
 * the token may not roll back). Each row is a deployment's summary (`GET /history?view=summary`:
 * a few kB at any size, where 50 whole deployments of 10,000 hosts are about 180 MB); its
 * machines are read when its details are opened, a page at a time (deploy-hosts.ts).
 */
import { useState } from 'preact/hooks';
import type { DeploymentSummary } from '../../api/index.js';
import { html } from '../html.js';
import { confLines, duration, when } from '../format.js';
import { href } from '../routes.js';
import { Ago, Badge, Empty } from '../widgets.js';
import { DeploymentHosts } from './deploy-hosts.js';

/** The exact label the interface promises (others rely on it). */
export const ROLLBACK_LABEL = 'Roll back to this version';

export function HistoryTable({
  rows,
  current,
  busy,
  onRollback,
}: {
  rows: DeploymentSummary[];
  current: string | null;
  busy: boolean;
  /** none: no rollback buttons */
  onRollback?: (version: string) => void;
}) {
  const [open, setOpen] = useState<Set<number>>(new Set());
  if (rows.length === 0)
    return html`<${Empty} title="No deployments yet.">Deploy a release above; every deploy and rollback is recorded here.</${Empty}>`;
  const toggle = (id: number): void =>
    setOpen((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const ask = (d: DeploymentSummary): void => {
    const question =
      `Roll back ${d.tag.split('_').pop()} to version ${d.version}?\n\n` +
      `This starts a new deployment of release ${d.version} to the cluster's hosts (${d.tag}). ` +
      'It is recorded in the history as a rollback.';
    if (window.confirm(question)) onRollback?.(d.version);
  };
  const now = Date.now();
  return html`<div class="table-wrap"><table class="history">
    <thead><tr><th>#</th><th>version</th><th>kind</th><th>who</th><th>when</th><th>took</th><th class="num">machines</th><th>status</th><th>details</th>${onRollback ? html`<th></th>` : null}</tr></thead>
    <tbody>${rows.map((d) => {
      const why = d.version === current ? 'this version runs now' : busy ? 'a deployment is running on this cluster' : '';
      return html`<tr key=${d.id} class=${`history-row status-${d.status}`} data-id=${d.id} data-version=${d.version}>
        <td class="num"><a href=${href.deployment(d.id)} title="this deployment's page">${d.id}</a></td>
        <td class="mono version">${d.version}</td>
        <td>${d.kind}</td>
        <td>${d.initiator}</td>
        <td><span title=${when(d.startedAt)}>${when(d.startedAt)}</span> <span class="muted small">(<${Ago} iso=${d.startedAt} />)</span></td>
        <td class="muted">${duration(d.startedAt, d.endedAt, now)}</td>
        <td class="num">${d.hostCount}</td>
        <td><${Badge} status=${d.status} title=${d.message ?? ''} /></td>
        <td><button class="link" aria-expanded=${String(open.has(d.id))} title="the cluster.conf and the machines of this deploy" onClick=${() => toggle(d.id)}>${open.has(d.id) ? 'hide' : 'show'}</button></td>
        ${onRollback ? html`<td><button class="rollback" disabled=${why !== ''} title=${why || `start a rollback to ${d.version}`} onClick=${() => ask(d)}>${ROLLBACK_LABEL}</button></td>` : null}
      </tr>${open.has(d.id) ? html`<tr class="history-detail" key=${`${d.id}-detail`}><td></td><td colspan=${onRollback ? '9' : '8'}><${Detail} d=${d} /></td></tr>` : null}`;
    })}</tbody>
  </table></div>`;
}

function Detail({ d }: { d: DeploymentSummary }) {
  return html`<div class="detail">
    <div>
      <h3>cluster.conf</h3>
      <pre>${confLines(d.conf).join('\n') || '(defaults)'}</pre>
    </div>
    <div>
      <h3>machines (${d.hostCount})</h3>
      <${DeploymentHosts} summary=${d} className="history-hosts" />
      ${d.message ? html`<p class="error-text">${d.message}</p>` : null}
    </div>
  </div>`;
}
