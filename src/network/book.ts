/**
 * The server's book of the address pool: the spec and every host's subnet, read once and kept,
 * and a host's subnet given the first time its desired state is resolved after a pool is set.
 *
 *   desired view ──hostNetwork(host)──► kept? answer : claim the lowest free subnet (store, unique)
 *                                        taken by another server meanwhile: read them all again, next one
 *   PUT /network ──set(spec)──► planChange ─► store: spec, dropped subnets, every host's generation
 *                               ─► bus `network` ─► every server: forget, then its listeners
 *                                  (the desired view forgets its answers, the hub wakes parked polls)
 *
 * Allocation is deterministic (the lowest index of the pool no host holds) and stable (a host keeps
 * its subnet across restarts of the server and of the agent; only a change of pool that leaves it
 * out gives it another). Two servers never give one subnet to two hosts: the store's unique index
 * refuses the second claim, and its server tries the next free one.
 */
import { type HostNetwork, type NetworkSpec, type NetworkView, NETWORK_DRIVERS, type NetworkDriverName } from '../api/index.js';
import { CHANNELS, type ChangeBus } from '../bus/index.js';
import { NoopsError } from '../errors/index.js';
import type { HostSubnetRow, NetworkRow, Store } from '../store/index.js';
import { checkCidr, formatCidr, gatewayOf, lowestFree, parseCidr, subnetAt, subnetIndex } from './cidr.js';
import { planChange, type SpecChange } from './spec.js';

/** The Docker network's name on every host. */
export const NETWORK_NAME = 'noops';

/** Claims one allocation tries before it gives up (each lost to another server's claim). */
const MAX_CLAIMS = 20;

/** What the book reads and writes. */
export interface NetworkBookDeps {
  store: Pick<Store, 'networks' | 'tx' | 'audit'>;
  /** where a change of spec is told to every server (without one: this server alone) */
  bus?: ChangeBus;
}

/** The spec as stored, as the wire has it. */
export function specOf(row: NetworkRow): NetworkSpec {
  const driver = (NETWORK_DRIVERS as readonly string[]).includes(row.driver) ? (row.driver as NetworkDriverName) : 'bridge';
  return { pool: row.pool, perHost: row.perHost, driver, parent: row.parent };
}

/** A host's part of the network, for its desired state. */
export function hostNetworkOf(spec: NetworkSpec, subnet: string): HostNetwork {
  return { name: NETWORK_NAME, subnet, gateway: gatewayOf(parseCidr(subnet)), driver: spec.driver, parent: spec.parent };
}

/** See the file's comment. */
export class NetworkBook {
  private spec: Promise<NetworkRow | undefined> | undefined;
  private given: Promise<Map<string, HostSubnetRow>> | undefined;
  /** allocations one after the other on this server: two at once would pick the same lowest subnet */
  private allocating: Promise<unknown> = Promise.resolve();
  private readonly listeners: (() => void)[] = [];
  /** the spec was read and no pool is set: every host's network is none, known without a read (until it changes) */
  private none = false;
  /** hosts told of a full pool (once each, until the pool changes) */
  private readonly warned = new Set<string>();
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: NetworkBookDeps) {
    this.unsubscribe =
      deps.bus?.subscribe(CHANNELS.network, { change: () => this.changed(), resync: () => this.changed() }) ?? (() => undefined);
  }

  /** Calls `listener` after the spec changed on any server (this one included). */
  listen(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The spec and when and by whom it was set; undefined when no pool is set. */
  async row(): Promise<NetworkRow | undefined> {
    if (this.spec === undefined) {
      const read = this.deps.store.networks.get();
      this.spec = read;
      read.then(
        (row) => {
          if (this.spec === read) this.none = row === undefined;
        },
        () => undefined,
      );
    }
    const held = this.spec;
    return held.catch((err) => {
      if (this.spec === held) this.spec = undefined; // read again next time
      throw err;
    });
  }

  /**
   * True when no pool is set, as last read and not changed since: a host's network is none, and
   * its desired state need not ask (`forDesired` is a few promises a host; a deploy's fan-out
   * resolves 10,000 answers). False until the spec was read once.
   */
  get knownNone(): boolean {
    return this.none;
  }

  /**
   * The host's network (its subnet given now if it has none yet); undefined when no pool is set.
   *
   * @throws NoopsError NOOPS_E_NETWORK_FULL when every subnet of the pool is another host's
   */
  async hostNetwork(host: string): Promise<HostNetwork | undefined> {
    const row = await this.row();
    if (row === undefined) return undefined;
    const spec = specOf(row);
    const kept = (await this.subnets()).get(host);
    if (kept !== undefined && this.fits(spec, kept.subnet)) return hostNetworkOf(spec, kept.subnet);
    const next = this.allocating.then(() => this.allocate(host, spec));
    this.allocating = next.catch(() => undefined);
    return hostNetworkOf(spec, (await next).subnet);
  }

  /**
   * The host's network for its desired state: as `hostNetwork`, but a full pool answers none (the
   * host's containers use the engine's default bridge) and is told to `warn` once per host and pool.
   */
  async forDesired(host: string, warn: (message: string) => void): Promise<HostNetwork | undefined> {
    try {
      return await this.hostNetwork(host);
    } catch (err) {
      if (!(err instanceof NoopsError && err.code === 'NOOPS_E_NETWORK_FULL')) throw err;
      if (!this.warned.has(host)) {
        this.warned.add(host);
        warn(`${err.message} (${err.hint})`);
      }
      return undefined;
    }
  }

  /** The spec and the subnets of the hosts `visible` lets through; undefined when no pool is set. */
  async view(visible: (host: string) => boolean = () => true): Promise<NetworkView | undefined> {
    const row = await this.row();
    if (row === undefined) return undefined;
    const hosts = [...(await this.subnets()).values()]
      .filter((s) => visible(s.host))
      .sort((a, b) => a.index - b.index || (a.host < b.host ? -1 : 1))
      .map((s) => ({ host: s.host, subnet: s.subnet }));
    return { ...specOf(row), hosts, updatedAt: row.updatedAt };
  }

  /**
   * Sets the spec (audited as `network.set`), dropping the subnets the new pool leaves out, and
   * tells every server. Answers what the change did. `running`: the hosts the read model sees
   * running a container now (the store's rows are written a moment later), besides the store's.
   *
   * @throws NoopsError NOOPS_E_NETWORK_IN_USE when a host whose network would change runs a container
   */
  async set(spec: NetworkSpec, actor: string, running: Iterable<string> = []): Promise<SpecChange> {
    const at = new Date().toISOString();
    const { store } = this.deps;
    const change = await store.tx(async (s) => {
      const old = await s.networks.get();
      const given = await s.networks.subnets();
      const busy = new Set([...running, ...(await s.networks.containerHosts())]);
      const change = planChange(old && specOf(old), spec, given, busy);
      await s.networks.put({ ...spec, updatedBy: actor, updatedAt: at }, change.drop);
      await s.audit({
        at,
        actor,
        action: 'network.set',
        target: 'network',
        detail: { ...spec, from: old ? specOf(old) : null, kept: change.keep.length, dropped: change.drop },
      });
      return change;
    });
    if (this.deps.bus) await this.deps.bus.publish(CHANNELS.network, '');
    else this.changed();
    return change;
  }

  /** Stops hearing the bus. */
  close(): void {
    this.unsubscribe();
  }

  private changed(): void {
    this.spec = undefined;
    this.none = false;
    this.given = undefined;
    this.warned.clear();
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        process.emitWarning(`network: a listener failed: ${(err as Error).message}`);
      }
    }
  }

  private subnets(): Promise<Map<string, HostSubnetRow>> {
    if (this.given === undefined) {
      const held = this.deps.store.networks.subnets().then((rows) => new Map(rows.map((r) => [r.host, r])));
      this.given = held;
      held.catch(() => this.given === held && (this.given = undefined));
    }
    return this.given;
  }

  private fits(spec: NetworkSpec, subnet: string): boolean {
    const c = checkCidr(subnet);
    return !('error' in c) && subnetIndex(parseCidr(spec.pool), spec.perHost, c) !== undefined;
  }

  /** Claims the lowest free subnet for `host`; a claim lost to another server reads every subnet again. */
  private async allocate(host: string, spec: NetworkSpec): Promise<HostSubnetRow> {
    const pool = parseCidr(spec.pool);
    for (let attempt = 0; attempt < MAX_CLAIMS; attempt++) {
      const given = await this.subnets();
      const mine = given.get(host);
      if (mine !== undefined && this.fits(spec, mine.subnet)) return mine; // given meanwhile
      const taken: number[] = [];
      for (const s of given.values()) {
        const c = checkCidr(s.subnet);
        const i = 'error' in c ? undefined : subnetIndex(pool, spec.perHost, c);
        if (i !== undefined) taken.push(i);
      }
      const index = lowestFree(pool, spec.perHost, taken);
      if (index === undefined)
        throw new NoopsError(
          'NOOPS_E_NETWORK_FULL',
          `every /${spec.perHost} of the pool ${spec.pool} is another host's: ${host} gets no subnet (its containers use the engine's default bridge)`,
        );
      const claimed = await this.deps.store.networks.claim({
        host,
        subnet: formatCidr(subnetAt(pool, spec.perHost, index)),
        index,
        givenAt: new Date().toISOString(),
      });
      if (claimed !== undefined && this.fits(spec, claimed.subnet)) {
        given.set(host, claimed);
        return claimed;
      }
      if (claimed !== undefined) await this.deps.store.networks.release(host); // left from an older pool: give it a new one
      this.given = undefined; // another server took that subnet (or this host's): read them all again
    }
    throw new NoopsError('NOOPS_E_NETWORK_FULL', `${host}: ${MAX_CLAIMS} subnets in a row were taken by other servers first`, {
      hint: 'try again: the subnets are being given out fast; `noops network show` lists the hosts that have one',
    });
  }
}
