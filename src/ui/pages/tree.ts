/**
 * The service tree on the left: every node with its hosts, instances and health, a search box
 * that takes a tag (any part of one) or a selector (`cop=acme,pdl=shop`), and links to every
 * node's page. Refreshes itself every few seconds.
 */
import type { RefObject } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { TreeNodeView } from '../../api/index.js';
import { html } from '../html.js';
import { useLoad } from '../load.js';
import { href } from '../routes.js';
import { count } from '../format.js';
import { Dot, Empty, ErrorBox, Loading, useApi } from '../widgets.js';
import { filterTree } from '../tree-filter.js';
import { CHANGED } from '../widgets.js';

/** The tree is re-read this often: host health changes show within seconds, and reading the
 * tree is one cheap query per console. */
export const TREE_REFRESH_MS = 5000;

export function TreePanel({ current, searchRef }: { current: string | null; searchRef: RefObject<HTMLInputElement> }) {
  const api = useApi();
  const [query, setQuery] = useState('');
  const [submitted, setSubmitted] = useState('');
  const [searchError, setSearchError] = useState<string | null>(null);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const selector = submitted.includes('=') ? submitted : '';
  const tree = useLoad(() => api.tree(selector || undefined), [selector], TREE_REFRESH_MS);
  // A deploy that starts or ends on a page shows in the tree at once, not at the next refresh.
  useEffect(() => {
    addEventListener(CHANGED, tree.reload);
    return () => removeEventListener(CHANGED, tree.reload);
  }, [tree.reload]);
  const text = query.includes('=') ? '' : query.trim().toLowerCase();
  const shown = useMemo(() => (tree.data ? filterTree(tree.data.roots, text) : []), [tree.data, text]);

  const onSubmit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setSearchError(null);
    const q = query.trim();
    if (q.includes('=')) return setSubmitted(q);
    setSubmitted('');
    if (q === '') return;
    const starts = matchStarts(shown, text);
    if (starts.length === 1) {
      location.hash = href.node(starts[0]!);
      return;
    }
    // None or several: the server resolves a partial tag, or says which nodes it could mean.
    try {
      location.hash = href.node((await api.node(q)).node.tag);
    } catch (err) {
      setSearchError((err as Error).message);
    }
  };

  const toggle = (tag: string): void =>
    setOpen((s) => {
      const next = new Set(s);
      if (next.has(tag)) next.delete(tag);
      else next.add(tag);
      return next;
    });
  // A node is open when it is a root, the current node or on the way to it, or when a search
  // is on; a click on its arrow turns that around.
  const isOpen = (n: TreeNodeView, depth: number): boolean =>
    open.has(n.tag) !==
    (depth === 0 || text !== '' || selector !== '' || (current !== null && (current === n.tag || current.startsWith(`${n.tag}_`))));

  const row = (n: TreeNodeView, depth: number): unknown => {
    const expanded = isOpen(n, depth);
    const title = `${count(n.hosts, 'host')}${n.hostsDown ? ` (${n.hostsDown} down)` : ''}, ${n.instancesUp} of ${count(n.instances, 'instance')} up`;
    return html`<li key=${n.tag}>
      <div class=${`tree-row${current === n.tag ? ' current' : ''}`}>
        ${
          n.children.length
            ? html`<button class="twist" onClick=${() => toggle(n.tag)} aria-expanded=${String(expanded)} aria-label=${`${expanded ? 'collapse' : 'expand'} ${n.level}.${n.name}`}>${expanded ? '▾' : '▸'}</button>`
            : html`<span class="twist"></span>`
        }
        <a href=${href.node(n.tag)} title=${n.tag} aria-current=${current === n.tag ? 'page' : undefined}>
          <${Dot} health=${n.health} /><span class="lvl">${n.level}.</span><span class="name">${n.name}</span>
        </a>
        ${n.deploying ? html`<span class="deploying" title="a deployment is running under this node" aria-label="deploying">↻</span>` : null}
        <span class="counts" title=${title}>${n.hosts}h · ${n.instancesUp}/${n.instances}</span>
      </div>
      ${expanded && n.children.length ? html`<ul>${n.children.map((c) => row(c, depth + 1))}</ul>` : null}
    </li>`;
  };

  return html`<nav class="tree" aria-label="service tree">
    <form class="search" onSubmit=${onSubmit} role="search">
      <input ref=${searchRef} type="search" value=${query} placeholder="tag or selector  ( / )" aria-label="search the tree by tag or selector"
        onInput=${(e: Event) => {
          const v = (e.target as HTMLInputElement).value;
          setQuery(v);
          setSearchError(null);
          if (!v.includes('=') && submitted) setSubmitted('');
        }} />
    </form>
    ${
      selector
        ? html`<p class="small muted filter-note">selector <code>${selector}</code> · <button class="link" onClick=${() => {
            setQuery('');
            setSubmitted('');
          }}>clear</button></p>`
        : null
    }
    ${query.includes('=') && query.trim() !== selector ? html`<p class="small muted filter-note">press Enter to apply the selector</p>` : null}
    ${searchError ? html`<p class="small search-error" role="alert">${searchError}</p>` : null}
    ${tree.error ? html`<${ErrorBox} error=${tree.error} retry=${tree.reload} />` : null}
    ${!tree.data && !tree.error ? html`<${Loading} what="the tree" />` : null}
    ${
      tree.data && tree.data.roots.length === 0 && !selector
        ? html`<${Empty} title="The service tree is empty.">Build a release (<code>noops build -u REPO -t TAG -v COMMIT</code>) or set a cluster's hosts (<code>noops cluster set</code>) with a full tag, and its nodes appear here.</${Empty}>`
        : null
    }
    ${tree.data && shown.length === 0 && (text || selector) ? html`<${Empty} title="Nothing matches." />` : null}
    ${shown.length ? html`<ul class="tree-list">${shown.map((n) => row(n, 0))}</ul>` : null}
  </nav>`;
}

/**
 * The nodes where a match starts: their tag contains the text and their parent's does not
 * (everything under a match contains it too). One such node is where Enter goes.
 */
function matchStarts(nodes: TreeNodeView[], text: string, out: string[] = []): string[] {
  for (const n of nodes) {
    if (n.tag.toLowerCase().includes(text)) out.push(n.tag);
    else matchStarts(n.children, text, out);
  }
  return out;
}
