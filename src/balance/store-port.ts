/**
 * The server's Store as the balancer module's port (ports.ts): rows of 0020_balancers
 * (store/balancers.ts) to the wire's shapes, reports parsed from their JSON text.
 */
import type { BalancerReport, BalancerView as PoolRow } from '../api/index.js';
import type { BalancerRow, Store } from '../store/index.js';
import type { BalanceStore, StoredBalancerReport } from './ports.js';

/** A pool's row as the wire's `BalancerView` (unset keys left out). */
export function poolOf(r: BalancerRow): PoolRow {
  const pool: PoolRow = {
    name: r.name,
    selector: r.selector,
    host: r.host,
    driver: r.driver as PoolRow['driver'],
    createdBy: r.createdBy,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
  for (const key of ['socket', 'backend', 'file', 'vip', 'process', 'pidFile', 'api'] as const) {
    const value = r[key];
    if (value !== null) pool[key] = value;
  }
  return pool;
}

/** See the file's comment. */
export function balanceStoreOf(store: Store): BalanceStore {
  return {
    listHosts: () => store.listHosts(),
    listBalancers: async () => (await store.listBalancers()).map(poolOf),
    listDrains: async () => (await store.listDrains(new Date().toISOString())).map(({ id: _id, ...mark }) => mark),
    putDrain: async (mark) => {
      await store.putDrain(mark);
    },
    clearDrains: async (host, tag, above, process) => {
      await store.clearDrains({ host, tag, ...(above !== undefined && { above }), ...(process !== undefined && { process }) });
    },
    sweepDrains: async (now) => {
      await store.sweepDrains(now);
    },
    listBalancerReports: async () =>
      (await store.listBalancerReports()).flatMap((r): StoredBalancerReport[] => {
        try {
          return [{ host: r.host, report: JSON.parse(r.report) as BalancerReport, receivedAt: r.at }];
        } catch {
          return []; // not JSON (written by hand): no report rather than no pools
        }
      }),
    putBalancerReport: async (row) => {
      await store.putBalancerReport(row.report.name, row.host, JSON.stringify(row.report), row.receivedAt);
    },
  };
}
