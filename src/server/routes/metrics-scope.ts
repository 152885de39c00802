/**
 * Who may see (or push to) a metric series (issue 15): an instance's series through its tag, a
 * host's through the host's tree tags: the clusters naming it and its scope (the store), and the
 * instances it runs (the read model).
 *
 * The store's part is two full reads (`listClusters`, `listHosts`); every metric read of a team
 * once made both. Here they are kept, forgotten at once when a cluster's hosts or a host's scope
 * change (bus `tree`: `PUT /clusters`, `PUT /hosts/:name/scope`, `DELETE /hosts/:name` publish it,
 * on every server), and at the latest after HOST_SCOPE_TTL_MS (as naming keeps the hosts' rows a
 * few seconds; a write that publishes nothing). A single series or a push is read again before it
 * is refused (`fresh`): a host just given to a team is the team's at once.
 *
 * @example
 *   const hostTags = await tagsByHost(ctx);
 *   const visible = series.filter((s) => seriesAllowed(req.principal, s, hostTags));
 */
import { CHANNELS } from '../../bus/index.js';
import { instanceTagOf } from '../../monitor/index.js';
import type { InstanceRow } from '../../store/index.js';
import { matches, type Selector } from '../../tree/index.js';
import { canSee, isServerAdmin } from '../auth.js';
import type { Principal, ServerContext } from '../context.js';

/** How long the hosts' clusters and scopes are reused between reads (ms). */
export const HOST_SCOPE_TTL_MS = 2000;

/** The tree tags of each host, by host. */
export type HostTags = ReadonlyMap<string, ReadonlySet<string>>;

/** The store's part, read at `at`; and the whole map, made for one list of instances. */
interface Stored {
  at: number;
  tags: Map<string, string[]>;
  merged?: { instances: readonly InstanceRow[]; tags: HostTags };
}

/** The hosts' tags of one server (see the file's comment). */
export class HostScopes {
  private stored: Stored | undefined;
  private loading: Promise<Stored> | undefined;
  /** raised by every change heard: a read begun before one is not kept */
  private generation = 0;

  constructor(
    private readonly ctx: Pick<ServerContext, 'store' | 'reports' | 'bus'>,
    private readonly now: () => number = Date.now,
  ) {
    const forget = () => {
      this.generation++;
      this.stored = undefined;
      this.loading = undefined;
    };
    ctx.bus.subscribe(CHANNELS.tree, { change: forget, resync: forget });
  }

  /** Every host's tags; `fresh`: from a read of the store begun now. */
  async tagsByHost(opts: { fresh?: boolean } = {}): Promise<HostTags> {
    const stored = await this.storedTags(opts.fresh === true);
    const instances = this.ctx.reports.instances(); // the same array until an instance row changes
    if (stored.merged?.instances === instances) return stored.merged.tags;
    const tags = new Map<string, Set<string>>();
    for (const [host, list] of stored.tags) tags.set(host, new Set(list));
    for (const p of instances) {
      let set = tags.get(p.host);
      if (set === undefined) tags.set(p.host, (set = new Set()));
      set.add(p.tag);
    }
    stored.merged = { instances, tags };
    return tags;
  }

  private storedTags(fresh: boolean): Promise<Stored> {
    if (!fresh && this.stored !== undefined && this.now() - this.stored.at < HOST_SCOPE_TTL_MS) return Promise.resolve(this.stored);
    if (!fresh && this.loading !== undefined) return this.loading;
    const generation = this.generation;
    const loading = this.read().then(
      (stored) => {
        if (this.loading === loading) this.loading = undefined;
        if (generation === this.generation) this.stored = stored;
        return stored;
      },
      (err: unknown) => {
        if (this.loading === loading) this.loading = undefined;
        throw err;
      },
    );
    this.loading = loading;
    return loading;
  }

  private async read(): Promise<Stored> {
    const at = this.now();
    const [clusters, hosts] = await Promise.all([this.ctx.store.listClusters(), this.ctx.store.listHosts()]);
    const tags = new Map<string, string[]>();
    const add = (host: string, tag: string) => {
      const list = tags.get(host);
      if (list === undefined) tags.set(host, [tag]);
      else if (!list.includes(tag)) list.push(tag);
    };
    for (const c of clusters) for (const h of c.hosts) add(h, c.tag);
    for (const h of hosts) if (h.scope !== null) add(h.name, h.scope);
    return { at, tags };
  }
}

const scopes = new WeakMap<ServerContext, HostScopes>();

/** Every host's tree tags: the clusters naming it, its scope, the instances it runs. `fresh`: read the store now. */
export function tagsByHost(ctx: ServerContext, opts: { fresh?: boolean } = {}): Promise<HostTags> {
  let s = scopes.get(ctx);
  if (s === undefined) scopes.set(ctx, (s = new HostScopes(ctx)));
  return s.tagsByHost(opts);
}

/**
 * Whether `who` may see (or push to) a series: an instance's through its tag, a host's through
 * the host's tags. `sel`: and it matches the selector.
 */
export function seriesAllowed(
  who: Principal,
  series: { endpoint: string; tags: string },
  hostTags: HostTags | undefined,
  sel?: Selector,
): boolean {
  const tag = instanceTagOf(series.tags);
  if (tag !== undefined) return canSee(who, tag) && (sel === undefined || matches(sel, tag));
  if (isServerAdmin(who) && sel === undefined) return true;
  const tags = hostTags?.get(series.endpoint);
  if (tags === undefined) return false;
  for (const t of tags) if (canSee(who, t) && (sel === undefined || matches(sel, t))) return true;
  return false;
}
