/**
 * A node's page: where it sits in the tree, its health, its jobs and clusters, its hosts and
 * its instances. A cluster's page adds the release it runs, a deploy form, the live deployment
 * and the deploy history (see cluster.ts).
 */
import type { NodeView } from '../../api/index.js';
import { html } from '../html.js';
import { useLoad } from '../load.js';
import { href } from '../routes.js';
import { count } from '../format.js';
import { Ago, Dot, Empty, ErrorBox, Loading, Section, TagLink, useApi, useWho } from '../widgets.js';
import { isNotFound, notFoundWords } from '../permissions.js';
import { HostsTable, InstancesTable, below } from './tables.js';
import { ClusterBody } from './cluster.js';
import { NodeMonitoring } from '../chart-panels.js';
import { DepsPanel } from '../deps-panel.js';

/** A node's page is re-read this often: host and instance states show within seconds. */
export const NODE_REFRESH_MS = 5000;

export function NodePage({ tag }: { tag: string }) {
  const api = useApi();
  const who = useWho();
  const node = useLoad(() => api.node(tag), [tag], NODE_REFRESH_MS);
  // Missing and outside the token's scope look the same (the server's 404 leaks no names).
  if (node.error && !node.data && isNotFound(node.error)) {
    document.title = 'not found · noops';
    return html`<div class="page"><h1 class="mono">${tag}</h1><${Empty} title=${notFoundWords(who, `node ${tag}`)}>
      Pick a node in the tree, or go to <a href=${href.home()}>the services</a>.</${Empty}></div>`;
  }
  if (node.error && !node.data)
    return html`<div class="page"><h1 class="mono">${tag}</h1><${ErrorBox} error=${node.error} retry=${node.reload} /></div>`;
  if (!node.data) return html`<div class="page"><${Loading} what=${tag} /></div>`;
  const v = node.data;
  document.title = `${v.node.level}.${v.node.name} · noops`;
  return html`<div class="page">
    <${Crumbs} view=${v} />
    <header class="page-head">
      <h1><${Dot} health=${v.node.health} /> <span class="lvl">${v.node.level}.</span>${v.node.name}</h1>
      <p class="mono small muted tag-full" title="the full tag">${v.node.tag}</p>
      <p class="summary">${count(v.node.hosts, 'host')}${v.node.hostsDown ? html` (<span class="bad">${v.node.hostsDown} down</span>)` : null}${' · '}${v.node.instancesUp} of ${count(v.node.instances, 'instance')} up${v.node.deploying ? html` · <span class="deploying">deploying</span>` : null}</p>
    </header>
    ${node.error ? html`<${ErrorBox} error=${node.error} retry=${node.reload} />` : null}
    ${v.cluster ? html`<${ClusterBody} view=${v} reload=${node.reload} />` : html`<${NodeBody} view=${v} />`}
    <${DepsPanel} tag=${v.node.tag} />
    <${NodeMonitoring} tag=${v.node.tag} />
  </div>`;
}

function Crumbs({ view }: { view: NodeView }) {
  return html`<nav class="crumbs" aria-label="where this node is">
    <a href=${href.home()}>services</a>
    ${view.path.map(
      (p, i) =>
        html`<span key=${p.tag}> / ${
          i === view.path.length - 1
            ? html`<span aria-current="page">${p.level}.${p.name}</span>`
            : html`<a href=${href.node(p.tag)}>${p.level}.${p.name}</a>`
        }</span>`,
    )}
  </nav>`;
}

function NodeBody({ view }: { view: NodeView }) {
  const base = view.node.tag;
  return html`<div>
    ${
      view.node.children.length
        ? html`<${Section} title="Under this node">
      <div class="table-wrap"><table>
        <thead><tr><th>node</th><th>health</th><th class="num">hosts</th><th class="num">instances up</th></tr></thead>
        <tbody>${view.node.children.map(
          (c) => html`<tr key=${c.tag}>
          <td><${TagLink} tag=${c.tag} text=${`${c.level}.${c.name}`} />${c.deploying ? html` <span class="deploying">deploying</span>` : null}</td>
          <td><${Dot} health=${c.health} /> ${c.health}</td>
          <td class="num">${c.hosts}${c.hostsDown ? html` <span class="bad">(${c.hostsDown} down)</span>` : null}</td>
          <td class="num">${c.instancesUp} / ${c.instances}</td>
        </tr>`,
        )}</tbody>
      </table></div>
    </${Section}>`
        : null
    }
    <${Section} title="Jobs">
      ${
        view.jobs.length === 0
          ? html`<${Empty} title="No jobs under this node.">A job appears when a release is built for it: <code>noops build -u REPO -t TAG -v COMMIT</code>.</${Empty}>`
          : html`<div class="table-wrap"><table>
          <thead><tr><th>job</th><th>latest release</th><th class="num">releases</th><th>clusters (hosts, version running)</th></tr></thead>
          <tbody>${view.jobs.map(
            (j) => html`<tr key=${j.tag}>
            <td><${TagLink} tag=${j.tag} text=${below(j.tag, base) || `job.${j.name}`} /></td>
            <td>${j.latestRelease ? html`<span class="mono version">${j.latestRelease.version}</span> <span class="muted small"><${Ago} iso=${j.latestRelease.createdAt} /></span>` : html`<span class="muted">none built</span>`}</td>
            <td class="num">${j.releases}</td>
            <td>${
              j.clusters.length === 0
                ? html`<span class="muted">no clusters</span>`
                : j.clusters.map(
                    (c) => html`<div key=${c.tag}>
              <${TagLink} tag=${c.tag} text=${`cluster.${c.name}`} /> <span class="muted">(${count(c.hosts, 'host')}, </span><span class="mono version">${c.currentVersion ?? 'nothing'}</span><span class="muted">)</span>
              ${c.running ? html` <a class="deploying" href=${href.deployment(c.running)}>deploying #${c.running}</a>` : null}
            </div>`,
                  )
            }</td>
          </tr>`,
          )}</tbody>
        </table></div>`
      }
    </${Section}>
    <${Section} title=${`Hosts (${view.hosts.length})`}><${HostsTable} hosts=${view.hosts} base=${base} /></${Section}>
    <${Section} title=${`Instances (${view.node.instances})`}><${InstancesTable} instances=${view.instances} base=${base} /></${Section}>
  </div>`;
}
