/**
 * Two controllers on one stored state, as two servers on one database: only the one that leads
 * steps; a deploy started on the follower is taken up by the leader; a leader whose lease was
 * taken is refused its writes and follows, and the new leader finishes the rollout; commands
 * and stops work from the follower. The fence is the in-memory store's (`lease`), as the
 * database's `Store.fenced` refuses (store/leases.ts, tested against SQLite and PostgreSQL in
 * src/lead/index.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentReport } from '../api/index.js';
import type { Fence } from '../store/index.js';
import { RolloutController, type RolloutDeps } from './controller.js';
import type { StoredDeployment } from './ports.js';
import { CLUSTER, HOSTS, healthyReport, seeded } from './test-fleet.js';
import type { MemoryRolloutStore } from './testing.js';

interface Server {
  name: string;
  controller: RolloutController;
  fenced: string[];
}

/** A controller as one server runs it: elected, its writes and commands passed on as the server's bus would. */
function server(name: string, mem: MemoryRolloutStore, reports: Map<string, AgentReport>, peers: Server[]): Server {
  const deps: RolloutDeps = {
    ...mem.ports(),
    lastReport: (h) => reports.get(h),
    notify: () => undefined,
    hasArtifact: async () => true,
    artifactPath: () => '/nonexistent',
    workDir: '/nonexistent',
    resumeGraceMs: 0,
    elected: true,
  };
  const s: Server = { name, controller: new RolloutController(deps), fenced: [] };
  // the bus: every server hears what each wrote, and the leader hears the commands
  s.controller.on('written', (id) => {
    for (const p of peers) void p.controller.heard(id);
  });
  s.controller.on('command', (c) => {
    for (const p of peers) if (p.controller.leads()) void p.controller.act(c.id, c.action, c.by).catch(() => undefined);
  });
  s.controller.on('fenced', (why) => s.fenced.push(why));
  peers.push(s);
  return s;
}

async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const desiredOf = (mem: MemoryRolloutStore) =>
  Object.fromEntries(HOSTS.map((h) => [h, mem.desiredOf(h).find((e) => e.tag === CLUSTER)?.version ?? null]));

/** Servers a and b on one seeded store, both started; a leads the rollout loop (epoch 1). */
async function twoServersALeads(): Promise<{ mem: MemoryRolloutStore; reports: Map<string, AgentReport>; a: Server; b: Server }> {
  const mem = seeded();
  const reports = new Map<string, AgentReport>();
  const peers: Server[] = [];
  const a = server('a', mem, reports, peers);
  const b = server('b', mem, reports, peers);
  const fenceA: Fence = { loop: 'rollout', holder: 'a', epoch: 1 };
  mem.lease = fenceA;
  await a.controller.start();
  await b.controller.start();
  await a.controller.lead(fenceA);
  return { mem, reports, a, b };
}

test('two servers: the leader steps a deploy started on the follower; a takeover fences the old leader and the new one finishes', async () => {
  const { mem, reports, a, b } = await twoServersALeads();

  // started on b, which follows: written, not stepped by b; a takes it up and starts batch 1
  const d = await b.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  assert.equal(d.status, 'running');
  assert.equal(b.controller.current(d.id), undefined, 'b does not step it');
  await until('a steps batch 1', () => desiredOf(mem).h1 === 'aaaaaaaaa');
  assert.deepEqual(desiredOf(mem), { h1: 'aaaaaaaaa', h2: null, h3: null, h4: null });
  assert.ok(a.controller.current(d.id), 'a steps it');

  // a person pauses it through b: passed to a, applied, answered from the store
  const paused = await b.controller.act(d.id, 'pause', 'bob');
  assert.equal(paused.progress.paused, true);
  assert.ok(paused.progress.log.some((l) => l.message === 'paused by bob'));
  await assert.rejects(b.controller.act(d.id, 'promote', 'bob'), { code: 'NOOPS_E_DEPLOY_STATE' });
  await b.controller.act(d.id, 'resume', 'bob');

  // b takes the lease over (a was paused past it); a's next write is refused and a follows
  const fenceB: Fence = { loop: 'rollout', holder: 'b', epoch: 2 };
  mem.lease = fenceB;
  for (const h of ['h1']) reports.set(h, healthyReport(h, 'aaaaaaaaa'));
  a.controller.onReport('h1');
  await until('a is fenced', () => a.fenced.length > 0);
  assert.equal(a.controller.leads(), false);
  assert.match(a.fenced[0]!, /no longer leads the rollout loop/);
  assert.equal(a.controller.current(d.id), undefined, 'a forgot what it stepped');
  const stored = mem.deployment(d.id)!;
  assert.equal(stored.progress!.batch, 0, "a's refused step wrote nothing: batch 2 not started");
  assert.deepEqual(desiredOf(mem), { h1: 'aaaaaaaaa', h2: null, h3: null, h4: null });

  await b.controller.lead(fenceB);
  for (const h of HOSTS) reports.set(h, healthyReport(h, 'aaaaaaaaa'));
  for (const h of HOSTS) b.controller.onReport(h);
  const done = await until('b ends it', () => {
    const x: StoredDeployment | undefined = mem.deployment(d.id);
    return x && x.status !== 'running' && x;
  });
  assert.equal(done.status, 'succeeded');
  assert.deepEqual(desiredOf(mem), { h1: 'aaaaaaaaa', h2: 'aaaaaaaaa', h3: 'aaaaaaaaa', h4: 'aaaaaaaaa' });
  assert.ok(done.progress!.log.some((l) => l.message.startsWith('server b took the rollout loop over; resuming')));
  assert.equal(mem.audits.filter((x) => x.action === 'deploy.succeeded').length, 1, 'ended once');
});

test("a takeover puts every host in flight back in one read of the tag's desired state, not one per host", async () => {
  // At 10,000 hosts one read per host was 10,000 reads of 10,000 rows: the new leader held the
  // event loop for minutes in the middle of a deploy (no connection accepted, no report answered).
  const { mem, reports, a, b } = await twoServersALeads();
  const d = await a.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  await until('batch 1', () => desiredOf(mem).h1 === 'aaaaaaaaa');
  reports.set('h1', healthyReport('h1', 'aaaaaaaaa'));
  a.controller.onReport('h1');
  await until('batch 2: three hosts in flight', () => HOSTS.every((h) => desiredOf(mem)[h] === 'aaaaaaaaa'));

  // b takes over while h2-h4 deploy; a second takeover finds their entries already set
  const reads: string[] = [];
  const read = mem.desired.bind(mem);
  mem.desired = async (tag: string) => {
    reads.push(tag);
    return read(tag);
  };
  const fenceB: Fence = { loop: 'rollout', holder: 'b', epoch: 2 };
  mem.lease = fenceB;
  await b.controller.lead(fenceB);
  await until('b steps it', () => b.controller.current(d.id));
  assert.ok(reads.length <= 2, `the desired state was read ${reads.length} times for three hosts in flight`);
  assert.deepEqual(desiredOf(mem), { h1: 'aaaaaaaaa', h2: 'aaaaaaaaa', h3: 'aaaaaaaaa', h4: 'aaaaaaaaa' });
});

test("a follower names a running undeploy's hosts in their stops, read from the store", async () => {
  const mem = seeded();
  const reports = new Map<string, AgentReport>();
  for (const h of HOSTS) reports.set(h, healthyReport(h, 'aaaaaaaaa'));
  const peers: Server[] = [];
  const a = server('a', mem, reports, peers);
  const b = server('b', mem, reports, peers);
  await a.controller.start();
  await b.controller.start();
  await a.controller.lead({ loop: 'rollout', holder: 'a', epoch: 1 });
  // something runs on every host first
  const d = await a.controller.startDeploy({ tag: CLUSTER, version: 'aaaaaaaaa', kind: 'deploy', initiator: 'alice' });
  for (const h of HOSTS) a.controller.onReport(h);
  await until('deployed', () => mem.deployment(d.id)!.status === 'succeeded');
  assert.deepEqual(await b.controller.stopsFor('h1'), []);
  const u = await b.controller.startUndeploy({ tag: CLUSTER, initiator: 'alice' });
  assert.equal(u.kind, 'undeploy');
  assert.deepEqual(await b.controller.stopsFor('h1'), [CLUSTER]);
  assert.deepEqual(await a.controller.stopsFor('h1'), [CLUSTER]);
  assert.deepEqual(await b.controller.stopsFor('elsewhere'), []);
});
