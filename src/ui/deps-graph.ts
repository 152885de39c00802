/**
 * Who depends on whom, as a drawing (pure): from `GET /api/v1/deps?selector=` (a `DepsView`), the
 * node in the middle, the jobs that use it on the left, what it uses on the right, one edge per
 * peer marked declared (`depends_on:` in noops.yaml), observed (naming lookups) or both; and
 * where each box and edge goes on the SVG the deps panel draws (deps-panel.ts).
 */
import type { DepEdge, DepsView } from '../api/index.js';
import { parseSelector, parseTag } from '../tree/index.js';

/** How an edge is known: `depends_on:` only, naming lookups only, or both. */
export type EdgeKind = 'declared' | 'observed' | 'both';

/** One node beside the middle one: a caller (a job) or what is called (a selector). */
export interface DepsPeer {
  /** the job's tag, or the selector called, as the API gives it */
  id: string;
  /** a short name for its box */
  label: string;
  /** the tag of its node page (a partial tag for a selector: the page resolves it) */
  tag: string;
  kind: EdgeKind;
  /** the edges it stands for (a node above several jobs: each job's edge to it) */
  edges: DepEdge[];
  /** the last lookup seen on any of them (ISO), or null */
  lastSeen: string | null;
}

/** The drawing's content: the middle node, its callers (left), what it uses (right). */
export interface DepsGraph {
  selector: string;
  usedBy: DepsPeer[];
  uses: DepsPeer[];
}

/** The longest label drawn in a box; the full name is in its tooltip. */
export const LABEL_CHARS = 25;

function kindOf(declared: boolean, observed: boolean): EdgeKind {
  return declared && observed ? 'both' : declared ? 'declared' : 'observed';
}

/** The pairs of a tag (`cop.acme_owt.web`) or a selector (`cop=acme,owt=web`), in order; none when it is neither. */
function pairsOf(text: string): Array<{ key: string; value: string }> {
  try {
    return [...(text.includes('=') ? parseSelector(text) : parseTag(text)).pairs];
  } catch {
    return []; // the API gives canonical names; anything else is shown as it is
  }
}

/**
 * The tag of a node's page for a job's tag or a called selector: the selector's pairs as a
 * (possibly partial) tag, which the node page resolves to the one node that has them.
 *
 * @example
 *   pageTag('cop=acme,service=pay') // 'cop.acme_service.pay'
 */
export function pageTag(text: string): string {
  const pairs = pairsOf(text);
  return pairs.length === 0 ? text : pairs.map((p) => `${p.key}.${p.value}`).join('_');
}

/**
 * A short name: a tag's two lowest levels (`service.cart_job.web`), a selector as written when
 * short, else its two last pairs; cut to LABEL_CHARS.
 */
export function shortLabel(text: string): string {
  const pairs = pairsOf(text);
  const selector = text.includes('=');
  const kept = selector && pairs.length <= 3 ? pairs : pairs.slice(-2);
  const label =
    pairs.length === 0 ? text : kept.map((p) => (selector ? `${p.key}=${p.value}` : `${p.key}.${p.value}`)).join(selector ? ',' : '_');
  return label.length > LABEL_CHARS ? `${label.slice(0, LABEL_CHARS - 1)}…` : label;
}

function peers(edges: readonly DepEdge[], end: (e: DepEdge) => string): DepsPeer[] {
  const byId = new Map<string, DepEdge[]>();
  for (const e of edges) byId.set(end(e), [...(byId.get(end(e)) ?? []), e]);
  return [...byId.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, group]) => ({
      id,
      label: shortLabel(id),
      tag: pageTag(id),
      kind: kindOf(
        group.some((e) => e.declared),
        group.some((e) => e.observed),
      ),
      edges: group,
      lastSeen: group.reduce<string | null>(
        (last, e) => (e.lastSeen !== null && (last === null || e.lastSeen > last) ? e.lastSeen : last),
        null,
      ),
    }));
}

/** The drawing's content: callers grouped by job, callees by selector, each sorted by name. */
export function depsGraph(view: DepsView): DepsGraph {
  return { selector: view.selector, usedBy: peers(view.usedBy, (e) => e.from), uses: peers(view.uses, (e) => e.to) };
}

/**
 * The edges of the table under the drawing: those that use the node, then those it uses, each
 * once (an edge inside the node, a job under it calling another under it, is in both lists).
 */
export function edgeRows(view: Pick<DepsView, 'uses' | 'usedBy'>): DepEdge[] {
  return [...new Map([...view.usedBy, ...view.uses].map((e) => [`${e.from}\u0000${e.to}`, e])).values()];
}

/** Where a box goes (its top left corner), in the SVG's units. */
export interface Box {
  x: number;
  y: number;
}

/** The drawing's geometry: the SVG's size, every box, and each edge as a path. */
export interface DepsLayout {
  width: number;
  height: number;
  boxWidth: number;
  boxHeight: number;
  center: Box;
  usedBy: Array<Box & { path: string; labelAt: { x: number; y: number } }>;
  uses: Array<Box & { path: string; labelAt: { x: number; y: number } }>;
}

/** The geometry, in SVG units (the SVG scales to the panel's width). */
export const LAYOUT = { width: 900, boxWidth: 200, boxHeight: 32, gap: 14, margin: 12 } as const;

/** A horizontal S-curve from (x1, y1) to (x2, y2). */
function curve(x1: number, y1: number, x2: number, y2: number): string {
  const mid = (x1 + x2) / 2;
  return `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
}

/**
 * Lays the graph out in three columns: callers, the node, callees; each column centred on the
 * node; an edge runs from the caller's right side to the callee's left side (the arrow's end).
 */
export function layoutDeps(g: Pick<DepsGraph, 'usedBy' | 'uses'>): DepsLayout {
  const { width, boxWidth, boxHeight, gap, margin } = LAYOUT;
  const rows = Math.max(1, g.usedBy.length, g.uses.length);
  const height = margin * 2 + rows * boxHeight + (rows - 1) * gap;
  const columnTop = (n: number): number => (height - (n * boxHeight + (n - 1) * gap)) / 2;
  const center: Box = { x: (width - boxWidth) / 2, y: (height - boxHeight) / 2 };
  const midY = center.y + boxHeight / 2;
  const column = (n: number, x: number, toCenter: boolean) =>
    Array.from({ length: n }, (_, i) => {
      const y = columnTop(n) + i * (boxHeight + gap);
      const peerY = y + boxHeight / 2;
      // caller -> node (left), node -> callee (right); the label sits near the peer's end
      const path = toCenter ? curve(x + boxWidth, peerY, center.x, midY) : curve(center.x + boxWidth, midY, x, peerY);
      const labelX = toCenter ? x + boxWidth + 8 : x - 8;
      return { x, y, path, labelAt: { x: labelX, y: peerY - 6 } };
    });
  return {
    width,
    height,
    boxWidth,
    boxHeight,
    center,
    usedBy: column(g.usedBy.length, margin, true),
    uses: column(g.uses.length, width - margin - boxWidth, false),
  };
}
