/**
 * The scheduler loop across two servers on one PostgreSQL (issue 18): when the leader of the
 * `schedule` loop stops, the other takes it over and keeps to the migration budget its predecessor
 * spent (the window is in the store), so a failover in a network split does not empty another
 * share of the fleet at once. The hosts are joined and heard through the store (no agents: the
 * cluster is only placed, never deployed). Runs when NOOPS_TEST_PG_URL is set (CI sets it).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from './index.js';
import { packageOf, TREE, callServer } from './test-app.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from '../store/test-pg.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-schedule-servers-'));
let db: TestDatabase | undefined;
const servers: RunningServer[] = [];
let beating: NodeJS.Timeout | undefined;

after(async () => {
  clearInterval(beating);
  for (const s of servers) await s.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const GiB = 1024 ** 3;
/** the scheduler's `--down-after` here: short, so the test does not wait 10 s */
const DOWN_AFTER_MS = 1500;
const HOSTS = Array.from({ length: 10 }, (_, i) => `h${i}`);

async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('two servers: the server that takes the schedule loop over keeps to the migration budget the first one spent', {
  skip: NEEDS_PG,
}, async () => {
  db = await testDatabase('noops_ss');
  const url = new URL(db.url);
  const data = join(dir, 'data');
  const start = (id: string) =>
    startServer({
      dataDir: data,
      listen: '127.0.0.1:0',
      db: url.toString(),
      buildSandbox: 'none',
      log: () => {},
      serverId: id,
      leaseMs: 1000,
      scheduleDownAfterMs: DOWN_AFTER_MS,
    });
  const a = await start('srv-a');
  servers.push(a);
  const token = readFileSync(a.adminTokenFile, 'utf8').trim();
  const joinToken = readFileSync(a.joinTokenFile, 'utf8').trim();
  const ok = (r: { status: number; json: unknown }, what: string) =>
    assert.ok(r.status < 300, `${what}: ${r.status} ${JSON.stringify(r.json)}`);
  const store = a.ctx.store;
  for (const h of HOSTS) {
    ok(await callServer(a, joinToken, 'POST', '/agent/join', { name: h, labels: {} }), `join ${h}`);
    await store.schedule.setHostCapacity(h, { cpu: 4, memory: 8 * GiB, disk: 100 * GiB, freePorts: 1000 });
    await store.updateHost(h, { scope: TREE.ROOT });
  }
  // the hosts' heartbeats, straight into the store (every server reads them there)
  const heard = new Set(HOSTS);
  let beatStore = store;
  const beat = () => void beatStore.touchHosts([...heard].map((name) => ({ name, at: new Date().toISOString() }))).catch(() => undefined);
  beat();
  beating = setInterval(beat, 200);
  ok(await callServer(a, token, 'POST', `/releases/import?tag=${TREE.JOB}`, await packageOf(dir, TREE.JOB, 'aaaaaaaaa')), 'import');
  ok(
    await callServer(a, token, 'PUT', '/clusters', {
      tag: TREE.CLUSTER,
      schedule: { count: 5, cpu: 1, memory: '256M', distinctHosts: true },
    }),
    'cluster',
  );
  const b = await start('srv-b');
  servers.push(b);
  assert.equal(a.ctx.leadership.leads('schedule'), true, 'the first server leads the scheduler');
  assert.equal(b.ctx.leadership.leads('schedule'), false);
  const placed = await until('the cluster placed', async () => {
    const hosts = (await store.getCluster(TREE.CLUSTER))?.hosts ?? [];
    return hosts.length === 5 && hosts;
  });

  // three of its hosts fall silent: 10% of 10 hosts may leave per minute, so one leaves
  const quiet = placed.slice(0, 3);
  for (const h of quiet) heard.delete(h);
  const migrations = async () => (await store.listPlacements({ tag: TREE.CLUSTER })).filter((e) => e.kind === 'migrate');
  const [first] = await until('one silent host to leave', async () => {
    const m = await migrations();
    return m.length > 0 && m;
  });
  assert.ok(quiet.includes(first!.from!), `a silent host left: ${JSON.stringify(first)}`);

  // the leader stops; the other takes the loop over and ticks, within the same minute
  beatStore = b.ctx.store;
  await a.close();
  servers.splice(servers.indexOf(a), 1);
  await until('b leads the scheduler', () => b.ctx.leadership.leads('schedule'), 10_000);
  let ticks = 0;
  b.ctx.schedule!.loop.on('ticked', () => ticks++);
  await until('b to tick three times', () => ticks >= 3, 10_000);
  const bStore = b.ctx.store;
  assert.deepEqual(
    (await bStore.listPlacements({ tag: TREE.CLUSTER })).filter((e) => e.kind === 'migrate').map((e) => e.from),
    [first!.from],
    'no other host left: the budget of this minute was spent by the first leader',
  );
  const now = (await bStore.getCluster(TREE.CLUSTER))?.hosts ?? [];
  assert.deepEqual(
    quiet.filter((h) => now.includes(h)).sort(),
    quiet.filter((h) => h !== first!.from).sort(),
    'the other silent hosts keep their instances',
  );
  assert.deepEqual(
    (await bStore.schedule.listVacating()).map((v) => v.host),
    [first!.from],
  );
});
