/**
 * A cluster's page (below the node header): the release it runs, a deploy form, the deployment
 * running now (live), the deploy history with "Roll back to this version" on every row, and its
 * hosts and instances. The deploy form, the rollback buttons and Undeploy are there only for a
 * token that may deploy to the cluster (permissions.ts); a viewer sees the rest.
 */
import { useEffect, useState } from 'preact/hooks';
import { type DeploymentView, historySummaries, type NodeView } from '../../api/index.js';
import { html } from '../html.js';
import { useLoad } from '../load.js';
import { count, firstNames } from '../format.js';
import { Ago, announceChange, Empty, ErrorBox, Section, useApi, useMay, useWho } from '../widgets.js';
import { NEEDS, whoWords } from '../permissions.js';
import { HostsTable, InstancesTable } from './tables.js';
import { DeployForm, type DeployChoice } from './deploy.js';
import { HistoryTable } from './history.js';
import { LiveDeployment } from './live.js';
import { PlacementHistory } from './placements.js';

/** How many history rows the page shows: a few weeks of deploys on a busy cluster. */
export const HISTORY_ROWS = 50;
/** The hosts named in "Running now": every host of most clusters; a larger one is counted (its hosts are listed below). */
export const NAMED_HOSTS = 50;
/** The history is re-read this often, for deploys started elsewhere (the CLI, a colleague): as
 * summaries (`?view=summary`, about 1.3 kB a row at any size; 50 whole deployments of 10,000
 * hosts were about 180 MB), or whole and summarized here against a server without them. */
export const HISTORY_REFRESH_MS = 10_000;

export function ClusterBody({ view, reload }: { view: NodeView; reload: () => void }) {
  const api = useApi();
  const who = useWho();
  const cluster = view.cluster!;
  const tag = cluster.tag;
  const mayDeploy = useMay(tag, NEEDS.deploy);
  const mayRollback = useMay(tag, NEEDS.rollback);
  const mayUndeploy = useMay(tag, NEEDS.undeploy);
  const history = useLoad(() => historySummaries(api, tag, { limit: HISTORY_ROWS }), [tag], HISTORY_REFRESH_MS);
  const [liveId, setLiveId] = useState<number | null>(cluster.running?.id ?? null);
  const [startError, setStartError] = useState<Error | null>(null);

  // A deployment started elsewhere (the CLI) shows here too.
  const runningId = cluster.running?.id ?? null;
  useEffect(() => {
    if (runningId !== null) setLiveId(runningId);
  }, [runningId]);

  const started = (d: DeploymentView): void => {
    setStartError(null);
    setLiveId(d.id);
    history.reload();
    reload();
    announceChange();
  };
  const start = async (what: () => Promise<DeploymentView>): Promise<void> => {
    try {
      started(await what());
    } catch (err) {
      setStartError(err as Error);
    }
  };
  const ended = (): void => {
    history.reload();
    reload();
    announceChange();
  };
  const busy = runningId !== null || (history.data?.some((d) => d.status === 'running') ?? false);
  const undeploy = (): void => {
    const question =
      `Stop every instance of ${tag} on its ${count(cluster.hosts.length, 'host')}, in its batches?\n\n` +
      'It is recorded in the history as an undeploy; a deploy starts the cluster again.';
    if (window.confirm(question)) void start(() => api.undeploy({ tag }));
  };

  return html`<div>
    <${Section} title="Running now">
      ${
        cluster.current
          ? html`<dl class="facts">
            <dt>release</dt><dd><span class="mono version">${cluster.current.version}</span> <span class="muted">commit <span class="mono">${cluster.current.commit}</span></span></dd>
            <dt>built</dt><dd><${Ago} iso=${cluster.current.createdAt} /> from <span class="mono">${cluster.current.repo}</span></dd>
            <dt>processes</dt><dd class="mono">${cluster.current.manifest.processes.map((p) => p.name).join(', ')}</dd>
            <dt>package</dt><dd class="mono small">sha256 ${cluster.current.sha256.slice(0, 16)}… · ${Math.ceil(cluster.current.size / 1024)} KiB</dd>
            <dt>hosts</dt><dd>${count(cluster.hosts.length, 'host')}: <span class="mono">${firstNames(cluster.hosts, NAMED_HOSTS)}</span></dd>
          </dl>`
          : cluster.currentVersion
            ? html`<p>Version <span class="mono version">${cluster.currentVersion}</span> (its package is no longer stored).</p>`
            : html`<${Empty} title="Nothing deployed to this cluster yet.">Pick a release below and deploy it.</${Empty}>`
      }
      ${cluster.conf ? html`<details class="conf"><summary>cluster.conf</summary><pre>${cluster.conf}</pre></details>` : null}
    </${Section}>

    ${
      mayDeploy
        ? html`<${Section} title="Deploy" id="deploy">
        <${DeployForm} tag=${tag} current=${cluster.currentVersion} busy=${busy}
          onDeploy=${(c: DeployChoice) => start(() => api.deploy({ tag, version: c.version, policy: c.policy }))} />
        ${
          mayUndeploy && cluster.currentVersion
            ? html`<p><button class="undeploy" disabled=${busy} title=${busy ? 'a deployment is running' : `stop every instance of ${tag}`} onClick=${undeploy}>Undeploy</button></p>`
            : null
        }
        ${startError ? html`<${ErrorBox} error=${startError} />` : null}
      </${Section}>`
        : html`<p class="muted read-only" role="note">You may look but not deploy here: the token <strong>${who.name}</strong> is ${whoWords(who)}.</p>`
    }

    ${liveId !== null ? html`<${LiveDeployment} key=${liveId} id=${liveId} onEnd=${ended} />` : null}

    <${Section} title="Deploy history" id="history">
      ${history.error ? html`<${ErrorBox} error=${history.error} retry=${history.reload} />` : null}
      ${
        history.data
          ? html`<${HistoryTable} rows=${history.data} current=${cluster.currentVersion} busy=${busy}
            onRollback=${mayRollback ? (version: string) => start(() => api.rollback({ tag, to: version })) : undefined} />`
          : null
      }
    </${Section}>

    ${cluster.schedule ? html`<${PlacementHistory} tag=${tag} />` : null}

    <${Section} title=${`Hosts (${view.hosts.length})`}><${HostsTable} hosts=${view.hosts} base=${tag} /></${Section}>
    <${Section} title=${`Instances (${view.node.instances})`}><${InstancesTable} instances=${view.instances} base=${tag} /></${Section}>
  </div>`;
}
