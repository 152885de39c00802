/**
 * The hosts' rows naming reads (each host's address and labels, and the heartbeats other servers
 * write): every row at once (at the start, after a lost bus, rarely as a safety net), or the rows
 * of named hosts (one that just joined, joined again or was removed; those not heard live), many
 * in one read. A row the read does not find is forgotten (the host was removed). The view is told
 * which hosts' rows were read, to work their endpoints out again.
 */
import { plainAddress } from '../api/index.js';
import type { HostRow } from '../store/index.js';

/** Which rows a read brought: every host's (`all`), or these hosts', each found or not. */
export type RowsRead = { all: true } | { all: false; hosts: readonly { name: string; found: boolean }[] };

/** See the file's comment. */
export class HostRows {
  private rows = new Map<string, HostRow>();
  /** host names by the plain address their agent joined from (the first host seen there keeps it) */
  private byAddress = new Map<string, string>();
  private loading: Promise<void> | undefined;
  /** hosts whose rows are to be read, and the read under way */
  private readonly unread = new Set<string>();
  private reading: Promise<void> | undefined;

  /** `named`: reads the rows of the named hosts only (without it, every read is of every row). */
  constructor(
    private readonly all: () => Promise<HostRow[]>,
    private readonly named: ((names: string[]) => Promise<HostRow[]>) | undefined,
    private readonly onRead: (read: RowsRead) => void,
  ) {}

  /** Whether rows can be read a few at a time. */
  get byName(): boolean {
    return this.named !== undefined;
  }

  get(name: string): HostRow | undefined {
    return this.rows.get(name);
  }

  /** The host's row by its name in any case (DNS names are not case-sensitive). */
  caseless(name: string): HostRow | undefined {
    const lower = name.toLowerCase();
    for (const row of this.rows.values()) if (row.name.toLowerCase() === lower) return row;
    return undefined;
  }

  /** The host whose agent joined from `address`, if one did. */
  at(address: string): string | undefined {
    return this.byAddress.get(plainAddress(address)!);
  }

  /** Reads every row (one read at a time: a call while one runs shares it). */
  readAll(): Promise<void> {
    this.loading ??= this.all()
      .then((rows) => {
        this.rows = new Map(rows.map((r) => [r.name, r]));
        this.byAddress = new Map();
        for (const r of rows) this.addressOf(r);
        this.onRead({ all: true });
      })
      .catch((err: Error) => process.emitWarning(`naming: reading the hosts failed (tried again in a few seconds): ${err.message}`))
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  /** Reads these hosts' rows soon, with those of the others named meanwhile, in one read (every row without `named`). */
  read(hosts: readonly string[]): void {
    const named = this.named;
    if (!named) {
      if (!this.loading) void this.readAll();
      return;
    }
    for (const h of hosts) this.unread.add(h);
    this.reading ??= (async () => {
      while (this.unread.size > 0) {
        const names = [...this.unread];
        this.unread.clear();
        const found = new Map((await named(names)).map((r) => [r.name, r]));
        for (const name of names) {
          const r = found.get(name);
          this.forgetAddress(name);
          if (r) {
            this.rows.set(name, r);
            this.addressOf(r);
          } else this.rows.delete(name);
        }
        this.onRead({ all: false, hosts: names.map((name) => ({ name, found: found.has(name) })) });
      }
    })()
      .catch((err: Error) => {
        this.unread.clear(); // their next reports (or the next full read) ask again
        process.emitWarning(`naming: reading hosts' rows failed (tried again at their next report): ${err.message}`);
      })
      .finally(() => {
        this.reading = undefined;
      });
  }

  private addressOf(r: HostRow): void {
    const address = plainAddress(r.address);
    if (address !== null && !this.byAddress.has(address)) this.byAddress.set(address, r.name);
  }

  /** Forgets the address a host's agent joined from, if the map names it there. */
  private forgetAddress(host: string): void {
    const address = plainAddress(this.rows.get(host)?.address ?? null);
    if (address && this.byAddress.get(address) === host) this.byAddress.delete(address);
  }
}
