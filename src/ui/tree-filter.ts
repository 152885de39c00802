/** Filtering the tree by text, in the browser: pure, so it is tested without one. */
import type { TreeNodeView } from '../api/index.js';

/**
 * The nodes whose tag contains `text` (lower case), with their ancestors so the path shows, and
 * their whole subtree. An empty text keeps everything.
 *
 * @example
 *   filterTree(roots, 'pdl.shop') // the path to every pdl.shop node, and everything under them
 */
export function filterTree(nodes: readonly TreeNodeView[], text: string): TreeNodeView[] {
  if (text === '') return [...nodes];
  const out: TreeNodeView[] = [];
  for (const n of nodes) {
    if (n.tag.toLowerCase().includes(text)) out.push(n);
    else {
      const children = filterTree(n.children, text);
      if (children.length > 0) out.push({ ...n, children });
    }
  }
  return out;
}
