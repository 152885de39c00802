/**
 * The view's hosts' rows with a change bus (`hostChanges`): read as hosts join, join again from
 * another address and are removed, those of hosts not heard here every few seconds (another
 * server writes their heartbeats), and every row only at the start and rarely after.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { HostRow } from '../store/index.js';
import { parseSelector } from '../tree/index.js';
import { FakeSource, proc } from './testing.js';
import { type HostChanges, NamingView } from './view.js';

const SHOP = 'cop.acme_owt.web_pdl.shop_service.hello_job.web_cluster.dev';
const all = () => true;

/** A source whose stored heartbeat counts (as the server's read model: the newer of memory and store). */
class StoredSource extends FakeSource {
  /** hosts heard here, each when (ms); others only through their stored heartbeat */
  readonly heard = new Map<string, number>();
  override report(host: string, processes: Parameters<FakeSource['report']>[1], here = true): void {
    if (here) this.heard.set(host, Date.now());
    super.report(host, processes);
  }
  override lastSeen(host: string, stored: string | null = null): string | null {
    const mem = this.heard.get(host);
    const storedMs = stored ? Date.parse(stored) : 0;
    if (mem === undefined) return stored;
    return mem >= storedMs ? new Date(mem).toISOString() : stored;
  }
}

/** Waits for `ok`, at most 10 s. */
async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within 10 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function setup(s: StoredSource) {
  const full: number[] = [];
  const named: string[][] = [];
  const listeners = new Set<{ change(host: string): void; resync(): void }>();
  const hostChanges: HostChanges = (on) => {
    listeners.add(on);
    return () => listeners.delete(on);
  };
  const view = new NamingView(
    s,
    async () => {
      full.push(s.rows.length);
      return s.rows.map((r) => ({ ...r }));
    },
    { hostsRefreshMs: 20, hostsFullReadMs: 600_000, hostChanges },
    async (names) => {
      named.push([...names]);
      return s.rows.filter((r) => names.includes(r.name)).map((r) => ({ ...r }));
    },
  );
  const publish = (host: string) => {
    for (const l of listeners) l.change(host);
  };
  return { view, full, named, publish, listeners };
}

const endpoints = (view: NamingView) => view.answer(parseSelector('service=hello'), all).endpoints.map((e) => `${e.host} ${e.address}`);

describe('NamingView with a change bus', () => {
  it('sees a host added, re-addressed and removed, reading only its row; every row once', async () => {
    const s = new StoredSource();
    for (let i = 0; i < 50; i++) s.addHost(`old${i}`, `10.0.1.${i}`);
    const { view, full, named, publish, listeners } = setup(s);
    await view.start();
    for (let i = 0; i < 50; i++) s.report(`old${i}`, []);

    // added: it joins (the bus tells) and reports
    s.addHost('h1', '10.0.2.1');
    publish('h1');
    s.report('h1', [proc(SHOP)]);
    await until('h1 answered at its address', () => endpoints(view).join() === 'h1 10.0.2.1');
    assert.equal(view.hostAt('10.0.2.1'), 'h1');

    // re-addressed: it joins again from another address (the bus tells; its reports go on)
    s.rows.find((r) => r.name === 'h1')!.address = '10.0.2.9';
    publish('h1');
    await until('h1 answered at its new address', () => endpoints(view).join() === 'h1 10.0.2.9');
    assert.equal(view.hostAt('10.0.2.9'), 'h1');
    assert.equal(view.hostAt('10.0.2.1'), undefined, 'its old address names no host');

    // removed: its row and its report go (the bus tells)
    s.rows.splice(
      s.rows.findIndex((r) => r.name === 'h1'),
      1,
    );
    s.reports.delete('h1');
    publish('h1');
    await until('h1 gone', () => endpoints(view).length === 0 && view.host('h1') === undefined);
    assert.equal(view.hostAt('10.0.2.9'), undefined);

    await new Promise((r) => setTimeout(r, 100)); // five refreshes: every host here is heard live
    assert.deepEqual(full, [50], 'every row was read once, at the start');
    assert.ok(
      named.every((n) => n.length === 1 && n[0] === 'h1'),
      `only h1's row was read: ${JSON.stringify(named)}`,
    );
    view.close();
    assert.equal(listeners.size, 0, 'stopped listening');
  });

  it("reads the rows of hosts it does not hear live: another server's heartbeats keep them up", async () => {
    const s = new StoredSource();
    s.downAfterMs = 300;
    s.addHost('here', '10.0.3.1');
    s.addHost('there', '10.0.3.2');
    const { view, named } = setup(s);
    await view.start();
    s.report('here', [proc(SHOP)]);
    // `there` reports through another server: its report is shared, its heartbeats are only stored
    const row = s.rows.find((r) => r.name === 'there')! as HostRow;
    row.lastHeartbeat = new Date().toISOString();
    s.report('there', [proc(SHOP)], false);
    const hereBeats = setInterval(() => s.heard.set('here', Date.now()), 50);
    const thereBeats = setInterval(() => {
      row.lastHeartbeat = new Date().toISOString();
    }, 50);
    try {
      await new Promise((r) => setTimeout(r, 900)); // three down-after times
      assert.deepEqual(endpoints(view), ['here 10.0.3.1', 'there 10.0.3.2'], 'both up');
      assert.ok(named.some((n) => n.includes('there')));
      assert.ok(!named.some((n) => n.includes('here')), 'a host heard here live is not read');
      clearInterval(thereBeats);
      await until('there down once its stored heartbeat stops', () => endpoints(view).join() === 'here 10.0.3.1');
    } finally {
      clearInterval(hereBeats);
      clearInterval(thereBeats);
    }
    view.close();
  });
});
