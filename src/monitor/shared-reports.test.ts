/**
 * Reports shared between servers: two read models on one store (in-memory SQLite) and one bus
 * stand for two servers on one PostgreSQL. What one hears, the other sees; what the other gets
 * this way it never writes back; a newer report it heard itself wins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentReport } from '../api/index.js';
import { type Channel, type ChangeBus, LocalChangeBus, MAX_PAYLOAD_BYTES, Subscribers, type Subscriber } from '../bus/index.js';
import type { Store } from '../store/index.js';
import { openStore } from '../store/open.js';
import { ActualState } from './actual-state.js';
import { hostPayloads, hostsOfPayload } from './shared-reports.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const report = (version: string, extra: Partial<AgentReport> = {}): AgentReport => ({
  processes: [{ tag: TAG, process: 'web', version, state: 'up', pid: 10, port: 8080, restarts: 0, startedAt: null, error: null }],
  failures: [],
  generation: 1,
  ...extra,
});

/** The store, with the calls each server made counted by method. */
function counted(store: Store): { store: Store; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const wrapped = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return value.apply(target, args);
      };
    },
  });
  return { store: wrapped, calls };
}

/** A bus whose test can say "changes may have been missed" (what a reconnect does). */
class ResyncableBus implements ChangeBus {
  readonly subscribers = new Subscribers();
  async publish(channel: Channel, payload: string): Promise<void> {
    this.subscribers.deliver(channel, payload);
  }
  subscribe(channel: Channel, subscriber: Subscriber): () => void {
    return this.subscribers.add(channel, subscriber);
  }
  async close(): Promise<void> {}
}

async function twoServers(bus: ChangeBus = new LocalChangeBus()) {
  const db = await openStore('sqlite::memory:');
  const a = counted(db);
  const b = counted(db);
  const serverA = new ActualState(a.store, 15_000, bus);
  const serverB = new ActualState(b.store, 15_000, bus);
  return {
    db,
    a: serverA,
    b: serverB,
    callsA: a.calls,
    async close() {
      await serverA.close();
      await serverB.close();
      await db.close();
    },
  };
}

type Servers = Awaited<ReturnType<typeof twoServers>>;

/**
 * h1's agent restarted: its new start's first report (v3) is stored by A and read by B; then B,
 * paused till now, receives the old start's last report (v2), and writes it when `flush`.
 */
async function oldStartLate(s: Servers, flush: boolean): Promise<void> {
  await s.a.receive('h1', report('v3', { order: { boot: 'b2', seq: 1 } }));
  await s.a.flush();
  await s.b.settled();
  await new Promise((r) => setTimeout(r, 5)); // a later time than A's
  await s.b.receive('h1', report('v2', { order: { boot: 'b1', seq: 9 } }));
  if (!flush) return;
  await s.b.flush();
  await s.a.settled();
}

/** The store's report and rows of h1, and what `server` holds, are of `version`. */
async function everywhere(s: Servers, server: ActualState, version: string): Promise<void> {
  assert.equal(JSON.parse((await s.db.listHostReports(['h1']))[0]!.report).processes[0].version, version, 'the store');
  assert.deepEqual(
    (await s.db.listInstances({ host: 'h1' })).map((r) => r.version),
    [version],
    "the store's rows",
  );
  assert.equal(server.lastReport('h1')?.processes[0]?.version, version);
  assert.deepEqual(
    server.instances().map((r) => r.version),
    [version],
  );
}

test('payloads name every host, each under the bus limit', () => {
  const hosts = Array.from({ length: 1000 }, (_, i) => `host-${String(i).padStart(4, '0')}.example.com`);
  const payloads = hostPayloads(hosts);
  assert.ok(payloads.length > 1, 'a thousand names do not fit in one payload');
  for (const p of payloads) assert.ok(Buffer.byteLength(p) <= MAX_PAYLOAD_BYTES, `${Buffer.byteLength(p)} bytes`);
  assert.deepEqual(payloads.flatMap(hostsOfPayload), hosts);
  assert.deepEqual(hostPayloads([]), []);
});

test('a report heard by B is seen by A: last report, rows, the report event; A writes nothing', async (t) => {
  const s = await twoServers();
  t.after(() => s.close());
  const heardByA: string[] = [];
  s.a.on('report', (h) => heardByA.push(h));
  await s.b.receive(
    'h1',
    report('v2', { events: [{ seq: 1, at: '2026-01-01T00:00:00.000Z', tag: null, name: 'w', kind: 'k', message: 'm' }] }),
  );
  await s.b.flush();
  await s.a.settled();
  assert.deepEqual(heardByA, ['h1']);
  assert.equal(s.a.lastReport('h1')?.processes[0]?.version, 'v2');
  assert.deepEqual(s.a.instances(), s.b.instances());
  assert.deepEqual(s.a.hosts(), ['h1']);
  assert.deepEqual(s.a.recentEvents('h1'), [], 'events stay on the server that heard them');
  await s.a.flush();
  for (const write of ['putHostReports', 'replaceInstancesMany', 'touchHosts']) assert.equal(s.callsA.get(write), undefined, write);
});

test('an unchanged report is not stored again; a change of trust is', async (t) => {
  const s = await twoServers();
  t.after(() => s.close());
  const { store, calls } = counted(s.db);
  const b = new ActualState(store, 15_000, new LocalChangeBus());
  t.after(() => b.close());
  await b.receive('h1', report('v1'));
  await b.flush();
  await b.receive('h1', report('v1', { metrics: [] }));
  await b.flush();
  assert.equal(calls.get('putHostReports'), 1);
  await b.receive('h1', report('v1', { trust: { state: 'refused', server: null, generation: 1 } }));
  await b.flush();
  assert.equal(calls.get('putHostReports'), 2);
  assert.equal(calls.get('replaceInstancesMany'), 1, 'the rows did not change');
});

test('receiveStored: a newer stored report replaces the rows and emits; an older one is ignored', async (t) => {
  const s = await twoServers();
  t.after(() => s.close());
  const heard: string[] = [];
  s.a.on('report', (h, r) => heard.push(`${h} ${r.processes[0]?.version}`));
  await s.a.receive('h1', report('v1'));
  const before = s.a.instances();
  const older = new Date(Date.now() - 60_000).toISOString();
  assert.equal(s.a.receiveStored('h1', report('v0'), older), false);
  assert.equal(s.a.lastReport('h1')?.processes[0]?.version, 'v1', 'the report this server heard itself is newer');
  assert.deepEqual(s.a.instances(), before);
  const newer = new Date(Date.now() + 1_000).toISOString();
  assert.equal(s.a.receiveStored('h1', report('v2'), newer), true);
  assert.deepEqual(
    s.a.instances().map((r) => [r.host, r.version, r.updatedAt]),
    [['h1', 'v2', newer]],
  );
  assert.deepEqual(heard, ['h1 v1', 'h1 v2']);
  assert.equal(s.a.lastSeen('h1', null), newer);
});

test("a report received late by a paused server replaces nothing: the agent's order wins over the time it came", async (t) => {
  const s = await twoServers();
  t.after(() => s.close());
  // h1's agent sent its report 7 (v2) to B, which was paused; it gave up and sent report 8 (v3) to A
  await s.a.receive('h1', report('v3', { order: { boot: 'b1', seq: 8 } }));
  await s.a.flush();
  await s.b.settled();
  assert.equal(s.b.lastReport('h1')?.processes[0]?.version, 'v3');
  // B resumes and receives the waiting report 7 now: a newer time than A's, an older report
  await new Promise((r) => setTimeout(r, 5));
  await s.b.receive('h1', report('v2', { order: { boot: 'b1', seq: 7 } }));
  await s.b.flush();
  await s.a.settled();
  assert.equal(s.b.lastReport('h1')?.processes[0]?.version, 'v3', 'B counts it as a heartbeat');
  assert.equal(s.a.lastReport('h1')?.processes[0]?.version, 'v3');
  // C had not read A's report when the late one came (its announcement still on its way): the
  // store keeps v3, C's rows are not written, and C reads v3 back; C announces nothing
  const announced: string[] = [];
  const cBus = new LocalChangeBus();
  cBus.subscribe('reports' as Channel, { change: (p) => announced.push(p), resync: () => {} });
  const c = new ActualState(s.db, 15_000, cBus);
  t.after(() => c.close());
  await c.receive('h1', report('v2', { order: { boot: 'b1', seq: 7 } }));
  assert.equal(c.lastReport('h1')?.processes[0]?.version, 'v2');
  await c.flush();
  await c.settled();
  assert.equal(JSON.parse((await s.db.listHostReports(['h1']))[0]!.report).processes[0].version, 'v3', 'the store keeps the later report');
  assert.deepEqual(
    (await s.db.listInstances({ host: 'h1' })).map((r) => r.version),
    ['v3'],
    "the stale report's rows are not written",
  );
  assert.equal(c.lastReport('h1')?.processes[0]?.version, 'v3', 'C read the later report back');
  // announced all the same (a refusal may be a committed write whose answer was lost): the others keep their later one
  assert.deepEqual(announced, ['h1']);
  await s.a.settled();
  assert.equal(s.a.lastReport('h1')?.processes[0]?.version, 'v3');
  const later = new Date(Date.now() + 60_000).toISOString();
  assert.equal(s.a.receiveStored('h1', report('v2', { order: { boot: 'b1', seq: 7 } }), later), false);
  assert.equal(s.a.lastReport('h1')?.processes[0]?.version, 'v3');
  // a report of a new start of the agent is later by the time it came
  assert.equal(s.a.receiveStored('h1', report('v4', { order: { boot: 'b2', seq: 1 } }), later), true);
  assert.deepEqual(
    s.a.instances().map((r) => r.version),
    ['v4'],
  );
});

test("a late report of the agent's previous start is replaced by its new start's next report", async (t) => {
  const s = await twoServers();
  t.after(() => s.close());
  // two starts compare by the time: B's late report is taken
  await oldStartLate(s, true);
  assert.equal(s.a.lastReport('h1')?.processes[0]?.version, 'v2', 'the stale report is shown for now');
  // the new start's next heartbeat (the same processes it reported before) differs from what A
  // holds now: A writes it, and every server and the store have v3 again
  await new Promise((r) => setTimeout(r, 5));
  await s.a.receive('h1', report('v3', { order: { boot: 'b2', seq: 2 } }));
  await s.a.flush();
  await s.b.settled();
  await everywhere(s, s.b, 'v3');
});

test("a late report of the agent's previous start, stored after the new start's unchanged report came: the server that heard that one writes it back", async (t) => {
  const s = await twoServers();
  t.after(() => s.close());
  await oldStartLate(s, false); // B has not written it yet
  // meanwhile the new start's next report comes to A, unchanged: A writes nothing
  await new Promise((r) => setTimeout(r, 5));
  await s.a.receive('h1', report('v3', { order: { boot: 'b2', seq: 2 } }));
  await s.a.flush();
  // B's write is taken (two starts compare by time); A reads it and keeps its own, later one,
  // which differs: A writes its own back, and the store and B take it
  await s.b.flush();
  await s.a.settled();
  assert.equal(s.a.lastReport('h1')?.processes[0]?.version, 'v3');
  await s.a.flush();
  await s.b.settled();
  await everywhere(s, s.b, 'v3');
  // and it stops there: A reads its own back and writes nothing more
  const writes = s.callsA.get('putHostReports');
  await s.a.settled();
  await s.a.flush();
  assert.equal(s.callsA.get('putHostReports'), writes);
  // a stored report of the same time as A's own is neither taken nor written over (the store
  // would refuse it as not later, and A would read it back and write again at every flush)
  const same = s.a.lastSeen('h1', null)!;
  assert.equal(s.a.receiveStored('h1', report('v1', { order: { boot: 'b0', seq: 1 } }), same), false);
  await s.a.flush();
  assert.equal(s.callsA.get('putHostReports'), writes);
});

test("a late report of the agent's previous start, then the new start's next report to the same server: written at once", async (t) => {
  const s = await twoServers();
  t.after(() => s.close());
  await oldStartLate(s, true);
  await new Promise((r) => setTimeout(r, 5));
  await s.b.receive('h1', report('v3', { order: { boot: 'b2', seq: 2 } }));
  await s.b.flush();
  await s.a.settled();
  await everywhere(s, s.a, 'v3');
});

test('a thousand changed reports: one batched write on B, one read on A', async (t) => {
  const db = await openStore('sqlite::memory:');
  t.after(() => db.close());
  const hosts = Array.from({ length: 1000 }, (_, i) => `host-${String(i).padStart(4, '0')}`);
  const bus = new LocalChangeBus();
  const published: string[] = [];
  bus.subscribe('reports' as Channel, { change: (p) => published.push(p), resync: () => {} });
  const a = counted(db);
  const b = counted(db);
  const serverA = new ActualState(a.store, 15_000, bus);
  const serverB = new ActualState(b.store, 15_000, bus);
  t.after(async () => {
    await serverA.close();
    await serverB.close();
  });
  for (const h of hosts) await serverB.receive(h, report('v2'));
  await serverB.flush();
  await serverA.settled();
  assert.equal(b.calls.get('putHostReports'), 1);
  assert.equal(a.calls.get('listHostReports'), 1, 'the burst of messages is read in one query');
  assert.equal(b.calls.get('listHostReports'), undefined, 'B does not read back what it stored itself');
  assert.equal(published.flatMap(hostsOfPayload).length, 1000);
  assert.equal(serverA.hosts().length, 1000);
  assert.equal(serverA.instances().length, 1000);
});

test('a removed host is forgotten on every server; a server that starts knows every stored report', async (t) => {
  const s = await twoServers();
  t.after(() => s.close());
  await s.b.receive('h1', report('v1'));
  await s.b.receive('h2', report('v1'));
  await s.b.flush();
  await s.a.settled();
  const late = new ActualState(s.db, 15_000, new LocalChangeBus());
  t.after(() => late.close());
  await late.load();
  assert.deepEqual(late.hosts().sort(), ['h1', 'h2']);
  assert.equal(late.lastReport('h2')?.processes[0]?.version, 'v1');

  await s.db.deleteHost('h1');
  s.b.forget('h1');
  await s.b.flush();
  await s.a.settled();
  assert.deepEqual(s.a.hosts(), ['h2']);
  assert.deepEqual(
    s.a.instances().map((r) => r.host),
    ['h2'],
  );
});

test('resync reads every stored report again (announcements missed while the bus was away)', async (t) => {
  const bus = new ResyncableBus();
  const db = await openStore('sqlite::memory:');
  t.after(() => db.close());
  const a = new ActualState(db, 15_000, bus);
  t.after(() => a.close());
  // B stored a report whose announcement A never heard (another bus: A's connection was down)
  const b = new ActualState(db, 15_000, new LocalChangeBus());
  t.after(() => b.close());
  await b.receive('h1', report('v3'));
  await b.flush();
  assert.equal(a.lastReport('h1'), undefined);
  const heard = new Promise<string>((resolve) => a.once('report', (h) => resolve(h)));
  bus.subscribers.resyncAll();
  assert.equal(await heard, 'h1');
  assert.equal(a.lastReport('h1')?.processes[0]?.version, 'v3');
});

test('without the bus (SQLite, one server) no report is stored', async (t) => {
  const db = await openStore('sqlite::memory:');
  t.after(() => db.close());
  const { store, calls } = counted(db);
  const alone = new ActualState(store, 15_000);
  t.after(() => alone.close());
  await alone.receive('h1', report('v1'));
  await alone.load();
  await alone.flush();
  assert.equal(calls.get('putHostReports'), undefined);
  assert.equal(calls.get('listHostReports'), undefined);
  assert.equal(calls.get('replaceInstancesMany'), 1);
});

test('a failed read of stored reports is retried; a failed announcement is sent with the next flush', async (t) => {
  const db = await openStore('sqlite::memory:');
  t.after(() => db.close());
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  let readFailures = 1;
  let reads = 0;
  const flaky = new Proxy(db, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name !== 'listHostReports') return typeof value === 'function' ? value.bind(target) : value;
      return (hosts?: readonly string[]) => {
        reads += 1;
        return readFailures-- > 0 ? Promise.reject(new Error('connection reset')) : target.listHostReports(hosts);
      };
    },
  });
  let publishFailures = 1;
  const inner = new LocalChangeBus();
  const announced: string[] = [];
  inner.subscribe('reports' as Channel, { change: (p) => announced.push(p), resync: () => {} });
  const bus: ChangeBus = {
    publish: (channel, payload) => {
      const delivered = inner.publish(channel, payload);
      return publishFailures-- > 0 ? Promise.reject(new Error('bus away')) : delivered;
    },
    subscribe: (channel, subscriber) => inner.subscribe(channel, subscriber),
    close: () => inner.close(),
  };
  const a = new ActualState(flaky, 15_000, bus);
  const b = new ActualState(db, 15_000, bus);
  t.after(async () => {
    await a.close();
    await b.close();
  });
  await b.receive('h1', report('v1'));
  await b.flush(); // stored; the announcement reached A (in-process) but "failed" for the others
  await a.settled(); // A's read failed: kept for a retry
  assert.equal(a.lastReport('h1'), undefined);
  const heard = new Promise<string>((resolve) => a.once('report', (h) => resolve(h)));
  const alive = setInterval(() => {}, 50); // the retry's timer does not keep a process alive (a server's listener does)
  assert.equal(await heard, 'h1', 'read again after READ_RETRY_MS');
  clearInterval(alive);
  await b.flush(); // the failed announcement is sent again
  assert.deepEqual(announced, ['h1', 'h1'], 'the announcement that failed was sent again (by this flush or the timer before it)');
  assert.ok(reads >= 2, 'the failed read, then its retry');
  assert.ok(warnings.some((w) => /reading 1 hosts' stored reports failed, will retry: connection reset/.test(w)));
  assert.ok(warnings.some((w) => /telling the other servers.*bus away/.test(w)));
});
