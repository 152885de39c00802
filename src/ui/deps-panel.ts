/**
 * A node's Dependencies panel: who depends on whom, drawn (an SVG of the page's own, no chart
 * library) from `GET /api/v1/deps?selector=TAG`: the node in the middle, the jobs that use it on
 * the left, what it uses on the right, each edge marked declared, observed or both, each other
 * node a link to its own page; and the same edges as a table, with when each was last seen.
 */
import { readDeps, type DepEdge } from '../api/index.js';
import { html } from './html.js';
import { useLoad } from './load.js';
import { href } from './routes.js';
import { Ago, Empty, ErrorBox, Loading, Section, useApi } from './widgets.js';
import { depsGraph, edgeRows, layoutDeps, pageTag, shortLabel, type DepsPeer, type EdgeKind } from './deps-graph.js';

/** Dependencies are re-read this often: a lookup shows within seconds. */
export const DEPS_REFRESH_MS = 15_000;

/** The words of an edge's kind, on the drawing and in the table. */
export const KIND_WORDS: Record<EdgeKind, string> = {
  declared: 'declared',
  observed: 'observed',
  both: 'declared + observed',
};

const KIND_TITLES: Record<EdgeKind, string> = {
  declared: "declared in the caller's noops.yaml (depends_on:)",
  observed: 'seen in naming lookups (HTTP or DNS)',
  both: "declared in the caller's noops.yaml, and seen in naming lookups",
};

/** One peer's box: a link to its node's page, its full name in the tooltip. */
function PeerBox({ peer, x, y, w, h, side }: { peer: DepsPeer; x: number; y: number; w: number; h: number; side: 'uses' | 'used-by' }) {
  return html`<a class="deps-node" href=${href.node(peer.tag)} data-id=${peer.id} data-side=${side}>
    <title>${peer.id}</title>
    <rect x=${x} y=${y} width=${w} height=${h} rx="5" />
    <text x=${x + w / 2} y=${y + h / 2} text-anchor="middle" dominant-baseline="central">${peer.label}</text>
  </a>`;
}

/** The drawing: three columns and the edges between them. */
function DepsDrawing({ tag, callers, callees }: { tag: string; callers: DepsPeer[]; callees: DepsPeer[] }) {
  const l = layoutDeps({ usedBy: callers, uses: callees });
  const edge = (peer: DepsPeer, at: (typeof l.uses)[number], side: 'uses' | 'used-by') =>
    html`<g key=${`${side} ${peer.id}`} class=${`deps-edge deps-${peer.kind}`} data-side=${side} data-peer=${peer.id} data-kind=${peer.kind}>
      <title>${side === 'uses' ? `${tag} uses ${peer.id}` : `${peer.id} uses ${tag}`}: ${KIND_TITLES[peer.kind]}</title>
      <path d=${at.path} marker-end="url(#deps-arrow)" />
      <text x=${at.labelAt.x} y=${at.labelAt.y} text-anchor=${side === 'uses' ? 'end' : 'start'}>${KIND_WORDS[peer.kind]}</text>
    </g>`;
  return html`<svg class="deps-graph" viewBox=${`0 0 ${l.width} ${l.height}`} width="100%" role="group"
      aria-label=${`who depends on ${tag}: ${callers.length} callers on the left, ${callees.length} called on the right`}>
    <defs>
      <marker id="deps-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto">
        <path d="M0,0 L10,5 L0,10 z" class="deps-arrow" />
      </marker>
    </defs>
    ${callers.map((p, i) => edge(p, l.usedBy[i]!, 'used-by'))}
    ${callees.map((p, i) => edge(p, l.uses[i]!, 'uses'))}
    ${callers.map((p, i) => html`<${PeerBox} key=${`c ${p.id}`} peer=${p} x=${l.usedBy[i]!.x} y=${l.usedBy[i]!.y} w=${l.boxWidth} h=${l.boxHeight} side="used-by" />`)}
    ${callees.map((p, i) => html`<${PeerBox} key=${`u ${p.id}`} peer=${p} x=${l.uses[i]!.x} y=${l.uses[i]!.y} w=${l.boxWidth} h=${l.boxHeight} side="uses" />`)}
    <g class="deps-center" data-tag=${tag}>
      <title>${tag}</title>
      <rect x=${l.center.x} y=${l.center.y} width=${l.boxWidth} height=${l.boxHeight} rx="5" />
      <text x=${l.center.x + l.boxWidth / 2} y=${l.center.y + l.boxHeight / 2} text-anchor="middle" dominant-baseline="central">${shortLabel(tag)}</text>
    </g>
  </svg>`;
}

function EdgeRow({ e }: { e: DepEdge }) {
  const kind: EdgeKind = e.declared && e.observed ? 'both' : e.declared ? 'declared' : 'observed';
  return html`<tr data-from=${e.from} data-to=${e.to} data-kind=${kind}>
    <td class="mono small"><a href=${href.node(e.from)}>${e.from}</a></td>
    <td class="mono small"><a href=${href.node(pageTag(e.to))}>${e.to}</a></td>
    <td><span class=${`deps-kind deps-kind-${kind}`} title=${KIND_TITLES[kind]}>${KIND_WORDS[kind]}</span></td>
    <td class="small">${e.lastSeen ? html`<${Ago} iso=${e.lastSeen} />` : html`<span class="muted">not looked up</span>`}</td>
  </tr>`;
}

/** The panel under a node's own content. */
export function DepsPanel({ tag }: { tag: string }) {
  const api = useApi();
  const deps = useLoad(() => readDeps(api, tag), [tag], DEPS_REFRESH_MS);
  const graph = deps.data ? depsGraph(deps.data) : undefined;
  const edges = deps.data ? edgeRows(deps.data) : [];
  return html`<${Section} title=${graph ? `Dependencies (${graph.usedBy.length} using it, ${graph.uses.length} used)` : 'Dependencies'} id="deps">
    ${deps.error ? html`<${ErrorBox} error=${deps.error} retry=${deps.reload} />` : null}
    ${
      !graph
        ? deps.error
          ? null
          : html`<${Loading} what="who depends on whom" />`
        : edges.length === 0
          ? html`<${Empty} title="Nothing is known to use this node, nor does it use anything.">A service declares what it calls in its <code>noops.yaml</code> (<code>depends_on: [cop=acme,service=pay]</code>); naming lookups (<code>noops resolve</code>, DNS) are recorded too.</${Empty}>`
          : html`<div class="deps">
        <p class="small muted deps-legend">${'Left: the jobs that use it. Right: what it uses. Edges: '}<span class="deps-kind deps-kind-declared">declared</span>${' (depends_on: in noops.yaml), '}<span class="deps-kind deps-kind-observed">observed</span>${' (naming lookups), or both. Each box opens its node.'}</p>
        <${DepsDrawing} tag=${tag} callers=${graph.usedBy} callees=${graph.uses} />
        <div class="table-wrap"><table class="deps-table">
          <thead><tr><th>caller (job)</th><th>calls (selector)</th><th>known by</th><th>last lookup</th></tr></thead>
          <tbody>${edges.map((e) => html`<${EdgeRow} key=${`${e.from} ${e.to}`} e=${e} />`)}</tbody>
        </table></div>
      </div>`
    }
  </${Section}>`;
}
