/**
 * A deployment, live: where it is (batch, phase, paused), each host's state with the reason it
 * is not healthy or failed, the deploy tests, its log, and the controls the server accepts now
 * (pause, resume, promote, abort) that the token may use. Fed by the deployment's summary stream
 * (feed.ts: a few kB per change, where the whole deployment is about 3 MB at 10,000 hosts); the
 * table's hosts are read a page at a time when the summary changes (the first LIVE_HOSTS).
 */
import { useEffect, useState } from 'preact/hooks';
import {
  type DeploymentAction,
  type DeploymentHostView,
  type DeploymentSummary,
  deploymentActionSummary,
  deploymentHosts,
  deploymentSummaryEvents,
} from '../../api/index.js';
import { html } from '../html.js';
import { count, duration, when } from '../format.js';
import { deploymentFeed } from '../feed.js';
import { actionsFor, tallyOf, whereWords } from '../controls.js';
import { href } from '../routes.js';
import { isNotFound, may, NEEDS, notFoundWords } from '../permissions.js';
import { Badge, Empty, ErrorBox, Section, TagLink, useApi, useWho } from '../widgets.js';

/** Actions that cannot be undone ask first. */
const CONFIRM: Partial<Record<DeploymentAction, string>> = {
  abort: 'Abort this deployment? The hosts it changed go back to the release they ran before.',
};
/** The log lines shown: the newest, enough to see how it got here. */
const LOG_LINES = 12;
/** The hosts the table shows: every host of most clusters; a larger one is told in counts above it. */
const LIVE_HOSTS = 200;

export function LiveDeployment({ id, onEnd, standalone = false }: { id: number; onEnd?: () => void; standalone?: boolean }) {
  const api = useApi();
  const who = useWho();
  const [d, setD] = useState<DeploymentSummary | null>(null);
  const [rows, setRows] = useState<DeploymentHostView[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const [actionError, setActionError] = useState<Error | null>(null);
  const [acting, setActing] = useState<DeploymentAction | null>(null);
  const [, tick] = useState(0);

  useEffect(
    () =>
      deploymentFeed((i, signal) => deploymentSummaryEvents(api, i, { signal })).follow(id, {
        view: (v) => {
          setD(v);
          setError(null);
          if (v.status !== 'running') onEnd?.();
        },
        error: setError,
      }),
    [id],
  );
  // The table's hosts, read again when the summary changed.
  useEffect(() => {
    if (!d) return undefined;
    let gone = false;
    deploymentHosts(api, id, { limit: LIVE_HOSTS })
      .then((r) => {
        if (!gone) setRows(r);
      })
      .catch((err: Error) => {
        if (!gone) setError(err);
      });
    return () => {
      gone = true;
    };
  }, [d?.index]);
  // The elapsed time moves every second while it runs.
  useEffect(() => {
    if (d?.status !== 'running') return undefined;
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, [d?.status]);

  const act = async (action: DeploymentAction): Promise<void> => {
    const question = CONFIRM[action];
    if (question && !window.confirm(question)) return;
    setActionError(null);
    setActing(action);
    try {
      await deploymentActionSummary(api, id, action); // the summary stream brings the change (its answer is only a few kB)
    } catch (err) {
      setActionError(err as Error);
    } finally {
      setActing(null);
    }
  };

  const title = d ? `${d.kind === 'rollback' ? 'Rollback' : d.kind === 'undeploy' ? 'Undeploy' : 'Deploy'} #${d.id}` : `Deployment #${id}`;
  if (!d) {
    const body = !error
      ? html`<p class="loading">Loading…</p>`
      : isNotFound(error)
        ? html`<${Empty} title=${notFoundWords(who, `deployment #${id}`)} />`
        : html`<${ErrorBox} error=${error} />`;
    return html`<${Section} title=${title} id="live">${body}</${Section}>`;
  }
  const t = tallyOf(d.states, d.hostCount);
  const p = d.progress;
  const batches = p ? p.batches.length : 1;
  const actions = actionsFor(d).filter((a) => may(who, d.tag, NEEDS[a]));
  return html`<${Section} title=${title} id="live" actions=${!standalone ? html`<a href=${href.deployment(d.id)}>open on its own page</a>` : null}>
    <div class="live" data-status=${d.status} data-phase=${p?.phase ?? ''} data-paused=${String(p?.paused ?? false)}>
      <p class="live-head" aria-live="polite">
        <${Badge} status=${d.status} />${' '}
        <span>release <span class="mono version">${d.version}</span> to <${TagLink} tag=${d.tag} text=${d.tag.split('_').pop()} />,
        started by ${d.initiator}, ${d.status === 'running' ? 'running for' : 'took'} ${duration(d.startedAt, d.endedAt, Date.now())}</span>
        ${p && d.status === 'running' ? html`<span class="where">${whereWords(d)}</span>` : null}
      </p>
      <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax=${t.total} aria-valuenow=${t.done}
        title=${`${t.done} done, ${t.bad} failed or sent back, ${t.rest} to go`}>
        <span class="progress-done" style=${{ width: `${(100 * t.done) / Math.max(1, t.total)}%` }}></span>
        <span class="progress-failed" style=${{ width: `${(100 * t.bad) / Math.max(1, t.total)}%` }}></span>
      </div>
      <p class="small tally">${t.done} of ${count(t.total, 'host')} done${t.bad ? html`, <span class="bad">${t.bad} failed or sent back</span>` : null}${t.rest ? `, ${t.rest} ${d.status === 'running' ? 'to go' : 'not finished'}` : ''}</p>
      ${d.message ? html`<p class=${d.status === 'succeeded' ? '' : 'error-text'} role="alert">${d.message}</p>` : null}
      ${
        actions.length
          ? html`<p class="controls">${actions.map(
              (a) => html`<button key=${a} class=${a === 'promote' ? 'primary' : a === 'abort' ? 'danger' : ''}
          disabled=${acting !== null} onClick=${() => act(a)}>${acting === a ? '…' : a[0]!.toUpperCase() + a.slice(1)}</button>`,
            )}</p>`
          : null
      }
      ${actionError ? html`<${ErrorBox} error=${actionError} />` : null}
      ${error ? html`<p class="small muted" role="status">Lost the live stream (${error.message}); reconnecting…</p>` : null}
      <table class="compact live-hosts">
        <thead><tr>${batches > 1 ? html`<th>batch</th>` : null}<th>host</th><th>before</th><th>state</th><th>reason</th></tr></thead>
        <tbody>${rows.map(
          (
            r,
          ) => html`<tr key=${r.host} data-host=${r.host} data-state=${r.state} class=${p && p.batch === r.batch && d.status === 'running' ? 'current-batch' : ''}>
          ${batches > 1 ? html`<td class="num">${r.batch + 1}</td>` : null}
          <td class="mono">${r.host}</td>
          <td class="mono muted">${r.previous ?? 'nothing'}</td>
          <td><${Badge} status=${r.state} /></td>
          <td class="error-text">${r.reason ?? ''}</td>
        </tr>`,
        )}</tbody>
      </table>
      ${d.hostCount > rows.length ? html`<p class="small muted">The first ${rows.length} of ${count(d.hostCount, 'host')}.</p>` : null}
      ${
        p?.tests.length
          ? html`<h3>Deploy tests</h3>${p.tests.map(
              (run, i) => html`<div key=${i} class="test-run">
        <p>after batch ${run.batch + 1}: <${Badge} status=${run.status} /> <span class="muted small">${when(run.startedAt)}</span></p>
        ${run.commands.map(
          (c, j) => html`<details key=${j} open=${c.code !== 0 && c.code !== null}>
          <summary><span class="mono">${c.command}</span> <span class="muted">exit ${c.code ?? 'none (killed)'}</span></summary>
          <pre class="log">${c.output || '(no output)'}</pre>
        </details>`,
        )}
      </div>`,
            )}`
          : null
      }
      ${
        p?.log.length
          ? html`<details class="rollout-log"><summary>log (${p.log.length} lines)</summary>
        <pre class="log">${p.log
          .slice(-LOG_LINES)
          .map((l) => `${when(l.at)}  ${l.message}`)
          .join('\n')}</pre>
      </details>`
          : null
      }
    </div>
  </${Section}>`;
}
