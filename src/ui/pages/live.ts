/**
 * A deployment, live: its status, each host's state, the failures with their reasons, and the
 * controls the API offers for it. Fed by `deploymentFeed` (polling now, a stream later).
 *
 * The rollout work adds batches and pause / resume / abort / promote to the API. This view is
 * ready for them without guessing: it shows `batches` when a deployment has them, and a button
 * for each name in `actions` (POST /deployments/:id/ACTION), so it never offers what the
 * server cannot do.
 */
import { useEffect, useState } from 'preact/hooks';
import type { DeploymentView } from '../../api/types.js';
import { html } from '../html.js';
import { count, duration, hostState, progress } from '../format.js';
import { deploymentFeed } from '../feed.js';
import { href } from '../routes.js';
import { Badge, ErrorBox, Section, TagLink, useApi } from '../widgets.js';

/** What the view reads beyond today's DeploymentView, when the server sends it. */
export type LiveView = DeploymentView & {
  /** the actions the server accepts for this deployment now, e.g. ['pause', 'abort'] */
  actions?: string[];
  /** the hosts of each batch, in order, with the batch's state */
  batches?: { hosts: string[]; state?: string }[];
};

/** Actions that cannot be undone ask first. */
const CONFIRM: Record<string, string> = { abort: 'Abort this deployment? Hosts not yet done keep their previous release.' };

export function LiveDeployment({ id, onEnd, standalone = false }: { id: number; onEnd?: () => void; standalone?: boolean }) {
  const api = useApi();
  const [d, setD] = useState<LiveView | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [actionError, setActionError] = useState<Error | null>(null);
  const [, tick] = useState(0);

  useEffect(() => deploymentFeed((i) => api.deployment(i)).follow(id, {
    view: (v) => {
      setD(v);
      setError(null);
      if (v.status !== 'running') onEnd?.();
    },
    error: setError,
  }), [id]);
  // The elapsed time moves every second while it runs.
  useEffect(() => {
    if (d?.status !== 'running') return undefined;
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, [d?.status]);

  const act = async (action: string): Promise<void> => {
    if (CONFIRM[action] && !window.confirm(CONFIRM[action])) return;
    setActionError(null);
    try {
      setD(await api.request<LiveView>('POST', `/deployments/${id}/${encodeURIComponent(action)}`));
    } catch (err) {
      setActionError(err as Error);
    }
  };

  const title = d ? `${d.kind === 'rollback' ? 'Rollback' : 'Deploy'} #${d.id}` : `Deployment #${id}`;
  if (!d) {
    return html`<${Section} title=${title}>${error ? html`<${ErrorBox} error=${error} />` : html`<p class="loading">Loading…</p>`}</${Section}>`;
  }
  const p = progress(d.hosts, d.hostResults);
  const batches = d.batches?.length ? d.batches : [{ hosts: d.hosts, state: undefined }];
  return html`<${Section} title=${title} id="live" actions=${!standalone ? html`<a href=${href.deployment(d.id)}>open on its own page</a>` : null}>
    <div class="live" data-status=${d.status}>
      <p class="live-head" aria-live="polite">
        <${Badge} status=${d.status} />
        <span> release <span class="mono version">${d.version}</span> to <${TagLink} tag=${d.tag} text=${d.tag.split('_').pop()} />,
        started by ${d.initiator}, ${d.status === 'running' ? 'running for' : 'took'} ${duration(d.startedAt, d.endedAt, Date.now())}</span>
      </p>
      <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax=${p.total} aria-valuenow=${p.done}
        title=${`${p.done} done, ${p.failed} failed, ${p.pending} waiting`}>
        <span class="progress-done" style=${{ width: `${(100 * p.done) / Math.max(1, p.total)}%` }}></span>
        <span class="progress-failed" style=${{ width: `${(100 * p.failed) / Math.max(1, p.total)}%` }}></span>
      </div>
      <p class="small">${p.done} of ${count(p.total, 'host')} done${p.failed ? html`, <span class="bad">${p.failed} failed</span>` : null}${p.pending ? `, ${p.pending} ${d.status === 'running' ? 'waiting' : 'not finished'}` : ''}</p>
      ${d.message ? html`<p class="error-text" role="alert">${d.message}</p>` : null}
      ${d.status === 'running' && d.actions?.length ? html`<p class="controls">${d.actions.map((a) => html`<button key=${a} onClick=${() => act(a)}>${a[0]!.toUpperCase()}${a.slice(1)}</button> `)}</p>` : null}
      ${actionError ? html`<${ErrorBox} error=${actionError} />` : null}
      ${error ? html`<p class="small muted" role="status">Lost touch with the server (${error.message}); still trying…</p>` : null}
      ${batches.map((b, i) => html`<div key=${i} class="batch">
        ${batches.length > 1 ? html`<h3>Batch ${i + 1} of ${batches.length}${b.state ? html` · ${b.state}` : null}</h3>` : null}
        <table class="compact live-hosts">
          <thead><tr><th>host</th><th>before</th><th>state</th><th>reason</th></tr></thead>
          <tbody>${b.hosts.map((h) => {
            const s = hostState(d.hostResults[h]);
            return html`<tr key=${h} data-host=${h} data-state=${s.state}>
              <td class="mono">${h}</td>
              <td class="mono muted">${d.previous[h] ?? 'nothing'}</td>
              <td><${Badge} status=${s.state} /></td>
              <td class="error-text">${s.reason ?? ''}</td>
            </tr>`;
          })}</tbody>
        </table>
      </div>`)}
    </div>
  </${Section}>`;
}
