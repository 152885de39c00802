/**
 * Health at a glance, without I/O: for every node of the service tree, how many hosts and
 * instances lie under it, how many of them are up, and one word for the whole (the console's
 * coloured dot). Pure, so the rules are tested with exact equality. Fed by the server's read
 * model of what runs (monitor/), which knows the hosts and processes; this file knows the tree.
 */
import { ancestorsAndSelf, formatTag, parseTag } from './tag.js';
import type { TreeNode } from './tree.js';

/**
 * A node's health in one word: `ok` (every host and instance up), `degraded` (some are not),
 * `down` (every host down, or no instance up), `idle` (nothing runs, no host down). The API's
 * `Health` (api/types.ts) is the same word on the wire.
 */
export type Health = 'ok' | 'degraded' | 'down' | 'idle';

/** What the counts are made of. */
export interface HealthInput {
  /** every cluster (tag and host list) that the view covers */
  clusters: readonly { tag: string; hosts: readonly string[] }[];
  /** whether each known host is up; a host missing here counts as down */
  hostUp: ReadonlyMap<string, boolean>;
  /** every process row the view covers (one instance = one tag on one host) */
  processes: readonly { host: string; tag: string; state: string }[];
  /** tags of the clusters with a running deployment */
  running: readonly string[];
}

/** The counts of one node. */
export interface NodeHealth {
  hosts: number;
  hostsDown: number;
  instances: number;
  instancesUp: number;
  health: Health;
  deploying: boolean;
}

/**
 * One word from the counts: `idle` when nothing runs and no host is down, `down` when every host
 * is down or no instance is up, `degraded` when some are not up, `ok` otherwise.
 *
 * @example
 *   healthOf({ hosts: 3, hostsDown: 1, instances: 3, instancesUp: 2 }) // 'degraded'
 */
export function healthOf(c: { hosts: number; hostsDown: number; instances: number; instancesUp: number }): Health {
  if (c.instances === 0 && c.hostsDown === 0) return 'idle';
  if ((c.hosts > 0 && c.hostsDown === c.hosts) || (c.instances > 0 && c.instancesUp === 0)) return 'down';
  if (c.hostsDown > 0 || c.instancesUp < c.instances) return 'degraded';
  return 'ok';
}

/**
 * The counts of every node that has anything under it, by canonical tag. Each cluster, instance
 * and running deployment is added to all of its ancestors once, so the cost grows with the
 * number of rows times the depth of the tree, not with the number of nodes.
 */
export function healthByTag(input: HealthInput): Map<string, NodeHealth> {
  const hostSets = new Map<string, Set<string>>();
  const instances = new Map<string, Map<string, boolean>>();
  const deploying = new Set<string>();
  const ancestors = memo((tag: string) => ancestorsAndSelf(parseTag(tag)).map(formatTag));

  for (const c of input.clusters) {
    for (const node of ancestors(c.tag)) {
      const set = hostSets.get(node) ?? new Set<string>();
      for (const h of c.hosts) set.add(h);
      hostSets.set(node, set);
    }
  }
  // An instance is up when every one of its processes is.
  const instUp = new Map<string, boolean>();
  for (const p of input.processes) {
    const key = `${p.host}\u0000${p.tag}`;
    instUp.set(key, (instUp.get(key) ?? true) && p.state === 'up');
  }
  for (const [key, up] of instUp) {
    const tag = key.slice(key.indexOf('\u0000') + 1);
    for (const node of ancestors(tag)) {
      const m = instances.get(node) ?? new Map<string, boolean>();
      m.set(key, up);
      instances.set(node, m);
    }
  }
  for (const tag of input.running) for (const node of ancestors(tag)) deploying.add(node);

  const out = new Map<string, NodeHealth>();
  for (const tag of new Set([...hostSets.keys(), ...instances.keys(), ...deploying])) {
    const hosts = [...(hostSets.get(tag) ?? [])];
    const inst = [...(instances.get(tag)?.values() ?? [])];
    const counts = {
      hosts: hosts.length,
      hostsDown: hosts.filter((h) => !input.hostUp.get(h)).length,
      instances: inst.length,
      instancesUp: inst.filter(Boolean).length,
    };
    out.set(tag, { ...counts, health: healthOf(counts), deploying: deploying.has(tag) });
  }
  return out;
}

const EMPTY: NodeHealth = { hosts: 0, hostsDown: 0, instances: 0, instancesUp: 0, health: 'idle', deploying: false };

/** A node of the tree with its counts, and its children with theirs (the API's `TreeNodeView`). */
export interface HealthTreeNode extends NodeHealth {
  tag: string;
  level: string;
  name: string;
  children: HealthTreeNode[];
}

/** The tree with every node's counts (nodes with nothing under them are idle). */
export function annotateTree(roots: readonly TreeNode[], health: ReadonlyMap<string, NodeHealth>): HealthTreeNode[] {
  return roots.map((n) => ({
    tag: n.tag,
    level: n.level,
    name: n.name,
    ...(health.get(n.tag) ?? EMPTY),
    children: annotateTree(n.children, health),
  }));
}

function memo<T>(fn: (key: string) => T): (key: string) => T {
  const cache = new Map<string, T>();
  return (key) => {
    let v = cache.get(key);
    if (v === undefined) cache.set(key, (v = fn(key)));
    return v;
  };
}
