/**
 * `BalancerApplier`: the pools a host drives (its `DesiredBalancers`) applied, each with its
 * driver, each checked first (validate.ts). One pool's failure (a refused check, an unreachable
 * socket, a reload refused) is its own report, `ok: false` with the reason; the others are
 * applied all the same. Pools the server no longer names are forgotten and left as they are in
 * their balancer (`noops lb rm` only stops driving a pool). The applier remembers the last
 * pools and reports, so that it can apply them again (a deletion that waited for sessions) and
 * say whether a member it holds is still draining.
 *
 * `plan` checks a `DesiredBalancers` and `applyPool` applies one pool of it: the agent's loop
 * (loop.ts) applies each pool on its own, so that one pool never waits for another's apply;
 * `apply` does both for every pool at once.
 */
import type { BalancerReport, DesiredBalancers } from '../../api/index.js';
import { FileKeeper } from './files.js';
import { HaproxyDriver } from './haproxy-pool.js';
import { KeepalivedDriver } from './keepalived.js';
import { NginxDriver } from './nginx.js';
import { applyNginxApiPool, hostPort } from './nginx-lua.js';
import type { PoolOutcome } from './outcome.js';
import { checkPool, targetOf, type ValidPool } from './validate.js';

export interface BalancerApplierOptions {
  /** the keepalived binary that checks files (default `keepalived`, in PATH or /usr/sbin) */
  keepalived?: string;
  /** the clock of the reports (tests) */
  now?: () => Date;
}

/** True when a report holds a member draining with connections still open. */
export function drainingIn(report: BalancerReport): boolean {
  return report.members.some((m) => m.state === 'drain' && m.connections !== null && m.connections > 0);
}

/**
 * True when the pool is driven through a runtime API (HAProxy's socket, nginx's Lua control API):
 * a change is live when the call returns, with no file synced and no daemon reloaded. The loop
 * applies these first (a reload costs the machine's CPU and a file's fsync waits on its disk).
 */
export function atRuntime(pool: ValidPool): boolean {
  return pool.driver === 'haproxy' || (pool.driver === 'nginx' && pool.api !== undefined);
}

export class BalancerApplier {
  private readonly nginx = new NginxDriver();
  private readonly haproxy = new HaproxyDriver();
  /** nginx --api pools' files, written off the apply's path */
  private readonly files = new FileKeeper();
  private readonly keepalived: KeepalivedDriver;
  private readonly now: () => Date;
  /** the pools of the last apply, checked, by name */
  private pools = new Map<string, ValidPool>();
  /** the last report of each pool */
  private reports = new Map<string, BalancerReport>();

  constructor(opts: BalancerApplierOptions = {}) {
    this.keepalived = new KeepalivedDriver(opts.keepalived);
    this.now = opts.now ?? (() => new Date());
  }

  /** Applies every pool of `desired` (at once, side by side) and answers a report for each, once their files are written too. */
  async apply(desired: DesiredBalancers): Promise<BalancerReport[]> {
    const { pools, refused } = this.plan(desired);
    const applied = await Promise.all(pools.map((pool) => this.applyPool(pool, desired.index)));
    await this.filesWritten();
    return [...applied.filter((r) => r !== undefined), ...refused].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Resolves once the files that applies handed off (nginx --api's) are written. */
  filesWritten(): Promise<void> {
    return this.files.idle();
  }

  /**
   * Checks every pool of `desired`: the pools to apply (by name), and a report `ok: false` for
   * each refused (a failed check, or a second pool driving the same balancer). Pools no longer
   * named are forgotten, with their reports.
   */
  plan(desired: DesiredBalancers): { pools: ValidPool[]; refused: BalancerReport[] } {
    const pools = Array.isArray(desired.pools) ? [...desired.pools] : [];
    pools.sort((a, b) => String(a?.name).localeCompare(String(b?.name)));
    const checked = new Map<string, ValidPool>();
    const refused: BalancerReport[] = [];
    const targets = new Map<string, string>();
    for (const p of pools) {
      const c = checkPool(p);
      if (!c.ok) {
        refused.push(this.report(c.name, desired.index, { members: [], error: c.reason }));
        continue;
      }
      const target = targetOf(c.pool);
      const also = c.pool.driver === 'nginx' && c.pool.api ? [`nginx ${hostPort(c.pool.api)} upstream ${c.pool.upstream}`] : [];
      const clash = [target, ...also].find((t) => targets.has(t));
      const other = (clash && targets.get(clash)) ?? (checked.has(c.pool.name) ? c.pool.name : undefined);
      if (other !== undefined) {
        refused.push(
          this.report(c.pool.name, desired.index, {
            members: [],
            error: `pool "${c.pool.name}": pool "${other}" drives the same ${clash ?? target} (or the name is given twice): not applied`,
          }),
        );
        continue;
      }
      for (const t of [target, ...also]) targets.set(t, c.pool.name);
      checked.set(c.pool.name, c.pool);
    }
    for (const [name, pool] of this.pools) {
      if (checked.get(name) === undefined || targetOf(checked.get(name)!) !== targetOf(pool)) this.forget(pool);
    }
    this.pools = checked;
    const named = new Set(pools.map((p) => String(p?.name)));
    for (const name of [...this.reports.keys()]) if (!named.has(name)) this.reports.delete(name);
    for (const r of refused) this.reports.set(r.name, r);
    return { pools: [...checked.values()], refused };
  }

  /**
   * Applies one pool of the last plan; its report (`ok: false` with the reason when the balancer
   * could not be driven). `cut` aborted (a newer pool waits): a driver that can stops before its
   * next command, and then there is no report (undefined).
   */
  async applyPool(pool: ValidPool, index: number, cut?: AbortSignal): Promise<BalancerReport | undefined> {
    const outcome = await this.drive(pool, cut);
    if (outcome.cut) return undefined;
    const report = this.report(pool.name, index, outcome);
    if (this.pools.get(pool.name) === pool) this.reports.set(pool.name, report); // not one forgotten meanwhile
    return report;
  }

  /** True when a member of the last reports (of `name`, or of any pool) is draining with connections still open. */
  draining(name?: string): boolean {
    const reports = name === undefined ? [...this.reports.values()] : [this.reports.get(name)].filter((r) => r !== undefined);
    return reports.some((r) => drainingIn(r));
  }

  /** The last reports (empty before the first apply). */
  lastReports(): readonly BalancerReport[] {
    return [...this.reports.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  private async drive(pool: ValidPool, cut?: AbortSignal): Promise<PoolOutcome> {
    try {
      switch (pool.driver) {
        case 'haproxy':
          return await this.haproxy.apply(pool, cut);
        case 'nginx':
          return pool.api === undefined
            ? await this.nginx.apply(pool)
            : await applyNginxApiPool({ ...pool, api: pool.api }, this.files, cut);
        case 'keepalived':
          return await this.keepalived.apply(pool);
      }
    } catch (err) {
      return { members: [], error: (err as Error).message };
    }
  }

  private forget(pool: ValidPool): void {
    if (pool.driver === 'haproxy') this.haproxy.forget(pool);
    if (pool.driver === 'nginx') {
      this.nginx.forget(pool.file);
      this.files.forget(pool.file);
    }
    if (pool.driver === 'keepalived') this.keepalived.forget(pool.file);
  }

  private report(name: string, index: number, outcome: PoolOutcome): BalancerReport {
    return {
      name,
      index,
      ok: outcome.error === undefined,
      ...(outcome.error !== undefined && { error: outcome.error }),
      at: this.now().toISOString(),
      members: outcome.members,
    };
  }
}
