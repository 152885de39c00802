/** The first page: the top of the tree with its health, or how to begin when it is empty. */
import { html } from '../html.js';
import { useLoad } from '../load.js';
import { href } from '../routes.js';
import { count } from '../format.js';
import { Dot, Empty, ErrorBox, Loading, Section, useApi } from '../widgets.js';
import { TREE_REFRESH_MS } from './tree.js';

export function HomePage() {
  const api = useApi();
  const tree = useLoad(() => api.tree(), [], TREE_REFRESH_MS);
  document.title = 'noops';
  if (!tree.data)
    return html`<div class="page"><h1>Services</h1>${tree.error ? html`<${ErrorBox} error=${tree.error} retry=${tree.reload} />` : html`<${Loading} what="the tree" />`}</div>`;
  const roots = tree.data.roots;
  const second = roots.flatMap((r) => (r.children.length ? r.children : [r]));
  return html`<div class="page">
    <header class="page-head"><h1>Services</h1>
      <p class="summary muted">Pick a node in the tree (or press <kbd>/</kbd> to search it), or open <a href=${href.hosts()}>the hosts</a>. <kbd>?</kbd> lists the shortcuts.</p>
    </header>
    ${
      roots.length === 0
        ? html`<${Empty} title="Nothing here yet.">Build a release with <code>noops build -u REPO -t TAG -v COMMIT</code>, give its cluster hosts with <code>noops cluster set -t TAG --hosts h1,h2</code>, and deploy it from its page here or with <code>noops deploy</code>.</${Empty}>`
        : html`<${Section} title="Teams and products">
        <div class="cards">${second.map(
          (n) => html`<a class="card" key=${n.tag} href=${href.node(n.tag)}>
          <span class="card-title"><${Dot} health=${n.health} /> <span class="lvl">${n.level}.</span>${n.name}</span>
          <span class="muted small mono">${n.tag}</span>
          <span>${count(n.hosts, 'host')}${n.hostsDown ? html` (<span class="bad">${n.hostsDown} down</span>)` : null} · ${n.instancesUp}/${n.instances} instances up</span>
          ${n.deploying ? html`<span class="deploying">deploying</span>` : null}
        </a>`,
        )}</div>
      </${Section}>`
    }
  </div>`;
}

export function MissingPage({ hash }: { hash: string }) {
  document.title = 'no such page · noops';
  return html`<div class="page"><${Empty} title=${`There is no page at ${hash}.`}>Go to <a href=${href.home()}>the services</a> or <a href=${href.hosts()}>the hosts</a>.</${Empty}></div>`;
}
