/**
 * Reports shared between servers (issue 14): several servers on one PostgreSQL each hear some of
 * the agents. A server stores a host's report when what the others act on changed (batched with
 * the instance rows, `store-writer.ts`), then names the host on the change bus (`reports`); every
 * other server reads the named hosts' stored reports back, many hosts in one query, and takes
 * each into its read model unless it heard a newer one itself.
 *
 *   server B: receive ─> changed? ─> StoreWriter (100 ms batch): rows + putHostReports ─> publish names
 *   server A: bus `reports` ─> ReportReader (coalesces) ─> listHostReports(names) ─> receiveStored
 *
 * Events do not travel (each server keeps the events of the agents it hears); metrics, crons,
 * runtimes and trust travel inside the stored report, as of its last change.
 */
import { MAX_PAYLOAD_BYTES } from '../bus/index.js';
import type { AgentReport } from '../api/index.js';
import type { StoredHostReport } from '../store/index.js';

/** How long a failed read of stored reports waits before it is tried again (the store may be restarting). */
export const READ_RETRY_MS = 1_000;

/**
 * The bus payloads that name `hosts`: names one per line, as many per payload as fit in
 * MAX_PAYLOAD_BYTES (a deploy batch of 1,000 hosts is a few dozen messages, not 1,000).
 *
 * @example hostPayloads(['web-1', 'web-2']) // ['web-1\nweb-2']
 */
export function hostPayloads(hosts: readonly string[]): string[] {
  const out: string[] = [];
  let names: string[] = [];
  let bytes = 0;
  for (const host of hosts) {
    const size = Buffer.byteLength(host) + (names.length > 0 ? 1 : 0);
    if (names.length > 0 && bytes + size > MAX_PAYLOAD_BYTES) {
      out.push(names.join('\n'));
      names = [];
      bytes = 0;
    }
    bytes += Buffer.byteLength(host) + (names.length > 0 ? 1 : 0);
    names.push(host);
  }
  if (names.length > 0) out.push(names.join('\n'));
  return out;
}

/** The host names of a `reports` payload. */
export function hostsOfPayload(payload: string): string[] {
  return payload.split('\n').filter((h) => h !== '');
}

/** What of a report other servers need, as stored: all but its events (they stay where they were heard). */
export function sharedReport(host: string, report: AgentReport, at: string): StoredHostReport {
  // metric points reach every server through the ingestion's store, not through the report
  return { host, at, report: JSON.stringify({ ...report, events: undefined, metrics: undefined }), order: report.order ?? null };
}

/** The parts of a report that are stored for the others when they change, besides processes and failures. */
export function sharedKey(report: AgentReport): string {
  return JSON.stringify([report.trust ?? null, report.runtimes ?? null]);
}

/** What the reader does with what it read. */
export interface ReadSink {
  /** a host's stored report */
  stored(host: string, report: AgentReport, at: string): void;
  /** a host named on the bus has no stored report: it was removed (`noops host rm`) */
  gone(host: string): void;
}

/**
 * Reads the stored reports of the hosts named on the bus. Names heard while a read runs wait for
 * the next one, so a burst of messages costs one query per round, not one per message.
 */
export class ReportReader {
  private wanted = new Set<string>();
  private reading: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly list: (hosts: readonly string[]) => Promise<StoredHostReport[]>,
    private readonly sink: ReadSink,
  ) {}

  /** Reads the stored reports of `hosts` soon (with any others named meanwhile). */
  want(hosts: readonly string[]): void {
    if (this.closed) return;
    for (const h of hosts) this.wanted.add(h);
    this.reading ??= new Promise<void>((r) => setImmediate(r)).then(() => this.read());
  }

  /** Resolves when what was wanted so far was read (or failed and waits for its retry). */
  async settled(): Promise<void> {
    while (this.reading) await this.reading;
  }

  /** Stops: nothing more is read. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.wanted.clear();
  }

  private async read(): Promise<void> {
    while (this.wanted.size > 0 && !this.closed) {
      const hosts = [...this.wanted];
      this.wanted = new Set();
      let rows: StoredHostReport[];
      try {
        rows = await this.list(hosts);
      } catch (err) {
        for (const h of hosts) this.wanted.add(h);
        process.emitWarning(`reports: reading ${hosts.length} hosts' stored reports failed, will retry: ${(err as Error).message}`);
        this.retry ??= setTimeout(() => {
          this.retry = undefined;
          this.want([]);
        }, READ_RETRY_MS);
        this.retry.unref();
        break;
      }
      applyStored(rows, this.sink);
      const found = new Set(rows.map((r) => r.host));
      for (const h of hosts) if (!found.has(h)) this.sink.gone(h);
    }
    this.reading = undefined;
    if (this.wanted.size > 0 && !this.retry && !this.closed) this.want([]);
  }
}

/** Gives each stored row to `sink`; a row that is not JSON is logged and skipped. */
export function applyStored(rows: readonly StoredHostReport[], sink: Pick<ReadSink, 'stored'>): void {
  for (const row of rows) {
    let report: AgentReport;
    try {
      report = JSON.parse(row.report) as AgentReport;
    } catch (err) {
      process.emitWarning(`reports: the stored report of ${row.host} is not JSON (${(err as Error).message}); skipped`);
      continue;
    }
    sink.stored(row.host, report, row.at);
  }
}
