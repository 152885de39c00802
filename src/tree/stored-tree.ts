/**
 * The service tree as the server keeps it, in the store: resolves what users type into canonical
 * tags, creates nodes when a complete tag is first used. Who may act on a tag is the server's
 * (`server/auth.ts`).
 *
 * A named second entry of `tree/` (see README.md): it reads and writes the store, so it stays out
 * of `tree/index.ts`, which is pure.
 */
import { CHANNELS, type ChangeBus } from '../bus/index.js';
import { NoopsError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import type { Level } from './levels.js';
import { resolveTag } from './resolve.js';
import { ancestorsAndSelf, formatTag, isUnder, levelOf, parentOf, parseTag, truncateTo } from './tag.js';

/**
 * The canonical tags of every node of the service tree, read from the store once and kept in
 * memory (nodes are only ever added through this class), so that resolving a tag a user typed
 * costs no store read. With several servers on one database, a server that adds nodes says so on
 * the change bus (`tree`), and every other server forgets its set and reads it again on next use;
 * a resync (the bus may have missed messages) forgets it too.
 *
 * @example
 *   const tree = new StoredTree(store, bus);
 *   await tree.resolve('api_cluster.prod', { level: 'cluster' }); // the cluster's canonical tag
 *   await tree.ensure('cop.x_owt.y_pdl.z_service.s_job.j');       // creates it and its ancestors
 */
export class StoredTree {
  private nodes: Set<string> | undefined;
  /** raised by every forget: a read that began before it is not kept (it may miss the new nodes) */
  private generation = 0;
  /** true while this tree publishes: the bus tells its own subscriber at once, and that echo is not news here */
  private publishing = false;

  /** `bus`: where new nodes are told to every server on the database (without one: this server alone). */
  constructor(
    private readonly store: Store,
    private readonly bus?: ChangeBus,
  ) {
    const heard = (): void => {
      if (!this.publishing) this.forget();
    };
    bus?.subscribe(CHANNELS.tree, { change: heard, resync: () => this.forget() });
  }

  /** Canonical tags of every node. Cached until a server (this one or another) adds nodes. */
  async all(): Promise<Set<string>> {
    if (this.nodes) return this.nodes;
    const generation = this.generation;
    const nodes = new Set((await this.store.listNodes()).map((n) => n.tag));
    if (generation === this.generation) this.nodes = nodes;
    return nodes;
  }

  /** Forgets the nodes read: the next use reads them again (another server added some). */
  forget(): void {
    this.generation += 1;
    this.nodes = undefined;
  }

  /**
   * Resolves user input to a canonical tag at `level` (or, with `upTo`, truncated to it).
   * A complete tag is accepted (its nodes are created by `ensure`); a partial one must name
   * exactly one existing node.
   */
  async resolve(input: string, want: { level: Level; truncate?: boolean }): Promise<string> {
    const { tag } = await this.resolveFresh(input);
    const parsed = parseTag(tag);
    if (want.truncate) {
      const cut = truncateTo(parsed, want.level);
      if (!cut)
        throw new NoopsError('NOOPS_E_TAG_INVALID', `${tag} names no ${want.level}; give a tag that goes down to ${want.level}.NAME`);
      return formatTag(cut);
    }
    if (levelOf(parsed) !== want.level) {
      // A node above the wanted level stands for the one node of that level under it, if unique.
      const below = [...(await this.all())].filter((t) => t !== tag && isUnder(t, tag) && levelOf(parseTag(t)) === want.level).sort();
      if (below.length === 1) return below[0]!;
      throw new NoopsError(
        'NOOPS_E_TAG_INVALID',
        `${tag} is a ${levelOf(parsed)} tag; this needs a ${want.level} tag (ending in ${want.level}.NAME)` +
          (below.length > 1 ? `; under it are ${below.slice(0, 10).join(', ')}${below.length > 10 ? ', ...' : ''}` : ''),
        {
          hint: `give the ${want.level} tag (a unique part of it is enough, e.g. ${want.level}.NAME)`,
        },
      );
    }
    return tag;
  }

  /** Resolves user input to the canonical tag of a node at any level (for filters). */
  async resolveAny(input: string): Promise<string> {
    return (await this.resolveFresh(input)).tag;
  }

  /** Creates the node and its ancestors if they do not exist yet. */
  async ensure(tag: string): Promise<void> {
    const all = await this.all();
    if (all.has(tag)) return;
    const at = new Date().toISOString();
    const rows = ancestorsAndSelf(parseTag(tag)).map((t) => {
      const parent = parentOf(t);
      return { tag: formatTag(t), level: levelOf(t), parent: parent ? formatTag(parent) : null, createdAt: at };
    });
    await this.store.ensureNodes(rows);
    for (const r of rows) all.add(r.tag);
    if (!this.bus) return;
    // After the commit: a receiver reads the store at once. A failure to reach the others is
    // logged; they still find the node, as a tag they cannot resolve reads the store again.
    this.publishing = true;
    try {
      this.bus.publish(CHANNELS.tree, '').catch((err: Error) => process.emitWarning(`tree: ${err.message}`));
    } finally {
      this.publishing = false;
    }
  }

  /** Resolves against the nodes kept; a miss reads the store once more (a node another server added, its notice lost). */
  private async resolveFresh(input: string): Promise<ReturnType<typeof resolveTag>> {
    const kept = this.nodes;
    try {
      return resolveTag(input, await this.all());
    } catch (err) {
      if (kept === undefined || (err as NoopsError).code !== 'NOOPS_E_TAG_UNKNOWN') throw err;
      this.forget();
      return resolveTag(input, await this.all());
    }
  }
}
