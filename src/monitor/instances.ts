/**
 * Instance rows from a report: pure, so what a report turns into is tested with exact equality.
 * A row is one supervised process of one instance, as its host last reported it; the read model
 * keeps them in memory and the store keeps the same rows (`InstanceRow`).
 */
import type { AgentReport } from '../api/index.js';
import type { InstanceRow } from '../store/index.js';

/**
 * The rows of `host` from its report, stamped `at`. A process without an error of its own
 * carries its tag's failure (`VERSION: ERROR`), the release the agent could not bring up.
 *
 * @example
 *   instanceRows('h1', { processes: [web], failures: [] }, '2026-01-01T00:00:00.000Z')
 *   // [{ host: 'h1', tag: web.tag, process: 'web', ..., updatedAt: '2026-01-01T00:00:00.000Z' }]
 */
export function instanceRows(host: string, report: Pick<AgentReport, 'processes' | 'failures'>, at: string): InstanceRow[] {
  const failures = new Map(report.failures.map((f) => [f.tag, f]));
  return report.processes.map((p) => {
    const failure = failures.get(p.tag);
    return {
      host,
      tag: p.tag,
      process: p.process,
      version: p.version,
      state: p.state,
      pid: p.pid,
      port: p.port,
      restarts: p.restarts,
      startedAt: p.startedAt,
      error: p.error ?? (failure ? `${failure.version}: ${failure.error}` : null),
      container: p.container ?? null,
      address: p.address ?? null,
      updatedAt: at,
    };
  });
}

/**
 * The order the store lists instances in (host, tag, process), by UTF-16 code units: what
 * SQLite's default (binary) collation gives for the names and tags noops accepts.
 */
export function compareInstanceRows(a: InstanceRow, b: InstanceRow): number {
  return compare(a.host, b.host) || compare(a.tag, b.tag) || compare(a.process, b.process);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
