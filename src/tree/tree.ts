/**
 * The service tree for display: nested nodes with host counts, and the `tree`-like text of them.
 */
import { levelIndex, type Level } from './levels.js';
import { matches, type Selector } from './selector.js';
import { ancestorsAndSelf, formatTag, levelOf, parentOf, parseTag, type Tag } from './tag.js';

/**
 * One node of the displayed tree.
 *
 * @example
 *   const node: TreeNode = { tag: 'cop.xiaomi_owt.miliao', level: 'owt', name: 'miliao', children: [], hosts: 3 };
 */
export interface TreeNode {
  /** The node's canonical tag. */
  tag: string;
  /** The node's (deepest) level. */
  level: Level;
  /** The node's value at its level. */
  name: string;
  /** Sorted by name, then by level (a `servicegroup.x` and a `service.x` may be siblings). */
  children: TreeNode[];
  /** How many distinct hosts lie under the node (within the selection, when there is one). */
  hosts: number;
}

/**
 * Builds the tree from node tags and the hosts of (usually cluster) tags.
 *
 * - Ancestors missing from `nodeTags` are filled in; so are the tags of `hostsByTag`.
 * - A node's `hosts` counts each host once, however many of its clusters hold it.
 * - With a selector, the tree keeps the nodes that match it with their ancestors (so the path
 *   from the root shows) and descendants (which match too, as they hold their ancestors' pairs);
 *   hosts count only when their tag matches, so the counts add up to what is shown.
 *
 * @example
 *   const roots = buildTree(['cop.x_owt.y'], new Map([['cop.x_owt.y', ['h1', 'h2']]]));
 *   renderTree(roots) // 'cop.x (2 hosts)\n  owt.y (2 hosts)'
 */
export function buildTree(nodeTags: Iterable<string>, hostsByTag: Map<string, Iterable<string>>, selector?: Selector): TreeNode[] {
  const nodes = new Map<string, Tag>();
  const addPath = (tag: Tag): Tag[] => {
    const path = ancestorsAndSelf(tag);
    for (const node of path) nodes.set(formatTag(node), node);
    return path;
  };
  for (const text of nodeTags) addPath(parseTag(text));

  const hostSets = new Map<string, Set<string>>();
  for (const [text, hosts] of hostsByTag) {
    const tag = parseTag(text);
    const path = addPath(tag);
    if (selector !== undefined && !matches(selector, tag)) continue;
    const names = [...hosts];
    for (const node of path) {
      const key = formatTag(node);
      const set = hostSets.get(key) ?? new Set<string>();
      for (const name of names) set.add(name);
      hostSets.set(key, set);
    }
  }

  const kept = new Map<string, Tag>();
  for (const tag of nodes.values()) {
    if (selector !== undefined && !matches(selector, tag)) continue;
    for (const node of ancestorsAndSelf(tag)) kept.set(formatTag(node), node);
  }

  const built = new Map<string, TreeNode>();
  for (const [key, tag] of kept) {
    const level = levelOf(tag);
    const name = tag.pairs[tag.pairs.length - 1].value;
    built.set(key, { tag: key, level, name, children: [], hosts: hostSets.get(key)?.size ?? 0 });
  }
  const roots: TreeNode[] = [];
  for (const [key, tag] of kept) {
    const parent = parentOf(tag);
    const parentNode = parent === null ? undefined : built.get(formatTag(parent));
    (parentNode?.children ?? roots).push(built.get(key) as TreeNode);
  }
  return sortNodes(roots);
}

/** Sorts siblings by name, then level, by code unit (not locale) so the output never varies. */
function sortNodes(nodes: TreeNode[]): TreeNode[] {
  nodes.sort((a, b) => compare(a.name, b.name) || levelIndex(a.level) - levelIndex(b.level) || compare(a.tag, b.tag));
  for (const node of nodes) sortNodes(node.children);
  return nodes;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The tree as indented text, like `tree`: one line per node, two spaces per depth, no newline
 * at the end (an empty tree is the empty string).
 *
 * @example
 *   renderTree(roots)
 *   // cop.xiaomi (3 hosts)
 *   //   owt.miliao (3 hosts)
 *   //     pdl.im (1 host)
 */
export function renderTree(roots: TreeNode[]): string {
  const lines: string[] = [];
  const walk = (node: TreeNode, depth: number): void => {
    const unit = node.hosts === 1 ? 'host' : 'hosts';
    lines.push(`${'  '.repeat(depth)}${node.level}.${node.name} (${node.hosts} ${unit})`);
    for (const child of node.children) walk(child, depth + 1);
  };
  for (const root of roots) walk(root, 0);
  return lines.join('\n');
}
