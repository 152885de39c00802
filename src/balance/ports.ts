/**
 * What the balancer view and the hooks read and write: the pools, the drain marks and the
 * balancers' reports (rows of migration 0020_balancers), and the hosts' rows (their addresses).
 * The server's Store fits it as it is (`balanceStoreOf` in store-port.ts adapts it); tests use
 * `MemoryBalanceStore` (testing.ts).
 */
import type { BalancerReport, BalancerView } from '../api/index.js';
import type { HostRow } from '../store/index.js';

/**
 * A drain mark: the members of `tag` (or beneath it) on `host`, of `version` (null: any), take no
 * new traffic until the mark is cleared or `until` passes (an expired mark is ignored and swept).
 */
export interface DrainMark {
  host: string;
  tag: string;
  version: string | null;
  /** ISO time after which the mark counts for nothing */
  until: string;
  /** why: `deploy #12`, `restart #7` */
  reason: string;
  /** only the replicas numbered above this (`web@3` is 3, `web` 1): a lower count's (absent: every one) */
  above?: number;
  /**
   * only the process instances of these pids (a restart's: the processes it stops; migration
   * 0030): a process of another pid is a new one, and once healthy it is not covered, so it
   * joins the pools at its first healthy report, whenever the mark is cleared (absent: every
   * instance, whatever its pid: a rollout's, an undeploy's, a lower count's)
   */
  pids?: number[];
  /** only the instances of this process and its replicas (`web`: `web`, `web@2`; a restart of `--process web`; migration 0033): absent, every process */
  process?: string;
}

/** A balancer's last report of one pool, as the server stored it. */
export interface StoredBalancerReport {
  /** the host whose agent sent it (the pool's host) */
  host: string;
  report: BalancerReport;
  /** when the server received it (ISO time) */
  receivedAt: string;
}

/** The store as the balancer view and the hooks use it. */
export interface BalanceStore {
  listHosts(): Promise<HostRow[]>;
  listBalancers(): Promise<BalancerView[]>;
  listDrains(): Promise<DrainMark[]>;
  /** adds a mark (one for the same host, tag, version, `above` and process is replaced) */
  putDrain(mark: DrainMark): Promise<void>;
  /** removes the marks of `host` on `tag` (every version; with `above`, only that mark of the replicas above it; with `process`, only that process's) */
  clearDrains(host: string, tag: string, above?: number, process?: string): Promise<void>;
  /** removes the marks whose `until` is before `now` */
  sweepDrains(now: string): Promise<void>;
  listBalancerReports(): Promise<StoredBalancerReport[]>;
  /** keeps the report as the pool's last (one per pool) */
  putBalancerReport(row: StoredBalancerReport): Promise<void>;
}
