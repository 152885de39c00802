/**
 * Several servers on one PostgreSQL (issue 14), end to end: three real `noops server` processes
 * (each its own data folder and port, one fresh database), four real agents spread over them,
 * a real app repository. A deploy through one server reaches an agent polling another; two
 * deploys of one cluster sent to two servers at once (one refused, naming the other); a token
 * revoked on one is refused on another at once; the rollout leader SIGKILLed mid-batch (another
 * finishes it); the leader paused past its lease and resumed (it writes nothing: fencing); and
 * `noops servers --json` shows who leads. Runs when NOOPS_TEST_PG_URL is set.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { DeploymentView } from '../../src/api/index.js';
import {
  cleanup,
  cli,
  createTestDatabase,
  freePort,
  getJson,
  killSupervised,
  makeAppRepo,
  shareServerKeys,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
  type TestDatabase,
} from './harness.js';
import {
  apiOf,
  batchLines,
  deploymentVia,
  endedVia,
  leaseArgs,
  listServers,
  rolloutLeader,
  type ServerNode,
  type ServerRow,
} from './servers-fleet.js';

const PG_URL = process.env.NOOPS_TEST_PG_URL;
const SKIP = PG_URL ? false : 'set NOOPS_TEST_PG_URL to run it';
/** Short, to keep the test short: a dead leader's loops are taken over within about this. */
const LEASE_MS = 2000;
/** Every batch stays in flight at least this long (`--healthy-for`): the kill and the pause land mid-batch. */
const HEALTHY_FOR = '3s';
/** A revoked token is refused by every other server within this (the "at once"). */
const REVOKE_DEADLINE_MS = 1000;
const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.many';
/** h1 alone, its agent polling server B only */
const ON_B = `${JOB}_cluster.onb`;
/** h2, h3, h4, their agents given the three servers in different orders */
const FLEET = `${JOB}_cluster.fleet`;
const FLEET_HOSTS = ['h2', 'h3', 'h4'];

const base = tmp('several');
let db: TestDatabase | undefined;
const nodes: ServerNode[] = [];
const agents: Proc[] = [];
const roots: string[] = [];
const repoDir = join(base, 'repo');
const app = makeAppRepo(repoDir);
/** the first release, built by the set-up */
let v1 = '';

after(async () => {
  for (const n of nodes) n.proc.child.kill('SIGCONT'); // a paused server cannot stop
  await Promise.all(agents.map((a) => a.stop()));
  await Promise.all(nodes.map((n) => n.proc.stop()));
  roots.forEach(killSupervised);
  await db?.drop();
  cleanup([base]);
});

/** `noops server` on the test database, with the lease flags once they exist. */
async function launchNode(id: string, port: number): Promise<ServerProc> {
  return startServer(join(base, id), port, ['--db', db!.url, ...leaseArgs(id, LEASE_MS)]);
}

let fleet: Promise<void> | undefined;
/** The shared set-up (once): three servers, four agents up, the clusters set. */
function setUp(): Promise<void> {
  fleet ??= (async () => {
    db = await createTestDatabase(PG_URL!, 'noops_e2e_several');
    const [a, b, c] = ['a', 'b', 'c'];
    nodes.push({ id: a, data: join(base, a), port: await freePort(), proc: undefined as unknown as ServerProc });
    nodes[0]!.proc = await launchNode(a, nodes[0]!.port);
    for (const id of [b, c]) {
      shareServerKeys(join(base, a), join(base, id)); // every server of one database signs with one key
      nodes.push({ id, data: join(base, id), port: await freePort(), proc: undefined as unknown as ServerProc });
    }
    await Promise.all(nodes.slice(1).map(async (n) => (n.proc = await launchNode(n.id, n.port))));
    const [A, B, C] = nodes.map((n) => n.proc) as [ServerProc, ServerProc, ServerProc];
    const lists: Record<string, string> = {
      h1: B.url,
      h2: [C, A, B].map((s) => s.url).join(','),
      h3: [A, B, C].map((s) => s.url).join(','),
      h4: [B, C, A].map((s) => s.url).join(','),
    };
    for (const [host, list] of Object.entries(lists)) {
      roots.push(join(base, `agent-${host}`));
      agents.push(startAgent({ url: list, joinToken: A.joinToken }, roots.at(-1)!, host));
    }
    const api = apiOf(C);
    await until('four hosts up', async () => (await api.hosts()).filter((h) => h.status === 'up').length === 4, 60_000, 200);
    assert.equal((await cli(A, ['cluster', 'set', '-t', ON_B, '--hosts', 'h1'])).code, 0);
    assert.equal((await cli(B, ['cluster', 'set', '-t', FLEET, '--hosts', FLEET_HOSTS.join(',')])).code, 0);
    v1 = await build('hello v1');
  })();
  return fleet;
}

/** Commits `greeting` and builds it through server A; answers the release's version. */
async function build(greeting: string): Promise<string> {
  const version = app.commit(greeting).slice(0, 9);
  const r = await cli(nodes[0]!.proc, ['build', '-u', repoDir, '-t', JOB, '-v', version]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return version;
}

/** Starts a deploy through `via` and returns at once (`--no-wait`). */
async function deploy(via: ServerProc, tag: string, version: string, flags: string[] = []): Promise<DeploymentView> {
  const r = await cli(via, ['deploy', '-t', tag, '-v', version, '--no-wait', '--json', ...flags]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return (JSON.parse(r.stdout) as DeploymentView[])[0]!;
}

/** What each host of `tag` serves: `host:version:greeting`, in host order. */
async function serving(via: ServerProc, tag: string): Promise<string[]> {
  const rows = (await apiOf(via).instances(tag)).sort((x, y) => x.host.localeCompare(y.host));
  return Promise.all(
    rows.map(async (r) => `${r.host}:${r.version}:${(await getJson<{ greeting: string }>(`http://127.0.0.1:${r.port}/`)).greeting}`),
  );
}

/** Asserts that `via` shows every host of `tag` serving `expected` (reports of a switch may arrive a moment after the end). */
async function assertServing(via: ServerProc, tag: string, expected: string[]): Promise<void> {
  let last: string[] = [];
  await until(
    `${tag} served as expected`,
    async () => {
      last = await serving(via, tag);
      return JSON.stringify(last) === JSON.stringify(expected);
    },
    10_000,
    200,
  ).catch(() => undefined);
  assert.deepEqual(last, expected);
}

test('noops servers --json lists the three servers, exactly one leading rollout', {
  skip: SKIP,
  timeout: 120_000,
}, async () => {
  await setUp();
  await rolloutLeader(nodes, nodes, 'one server leading rollout');
  const r = await cli(nodes[1]!.proc, ['servers', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as ServerRow[];
  for (const x of rows) {
    assert.deepEqual(
      [typeof x.id, typeof x.address, Array.isArray(x.leads), Number.isNaN(Date.parse(x.lastSeen))],
      ['string', 'string', true, false],
      JSON.stringify(x),
    );
  }
  assert.deepEqual(rows.map((x) => x.id).sort(), ['a', 'b', 'c']);
  assert.deepEqual(new Set(rows.map((x) => x.address)), new Set(nodes.map((n) => n.proc.url)));
  assert.equal(rows.filter((x) => x.leads.includes('rollout')).length, 1, r.stdout);
  for (const x of rows) assert.ok(Date.now() - Date.parse(x.lastSeen) < 10 * LEASE_MS, `${x.id} seen lately: ${x.lastSeen}`);
});

test('a deploy made through server A reaches an agent polling only server B', {
  skip: SKIP,
  timeout: 120_000,
}, async () => {
  await setUp();
  const [A, B] = nodes.map((n) => n.proc) as [ServerProc, ServerProc];
  const d = await deploy(A, ON_B, v1);
  const done = await endedVia(nodes, d.id);
  assert.equal(done.status, 'succeeded', done.message ?? '');
  await assertServing(B, ON_B, [`h1:${v1}:hello v1`]);
});

test('two deploys of one cluster sent to two servers at once: one is accepted, the other refused naming it', {
  skip: SKIP,
  timeout: 120_000,
}, async () => {
  await setUp();
  const [A, B, C] = nodes.map((n) => n.proc) as [ServerProc, ServerProc, ServerProc];
  // --timeout: without every part in, hosts that cannot download end the deploy soon
  const flags = ['--batch', '100%', '--timeout', '20s', '--no-wait', '--json'];
  const both = await Promise.all([A, B].map((s) => cli(s, ['deploy', '-t', FLEET, '-v', v1, ...flags])));
  const accepted = both.filter((r) => r.code === 0);
  const refused = both.filter((r) => r.code !== 0);
  assert.deepEqual([accepted.length, refused.length], [1, 1], both.map((r) => r.stdout + r.stderr).join('\n---\n'));
  const d = (JSON.parse(accepted[0]!.stdout) as DeploymentView[])[0]!;
  assert.match(
    refused[0]!.stderr,
    new RegExp(`deployment #${d.id} \\(deploy of ${v1}, started by admin at \\S+\\) is running on ${FLEET.replace(/\./g, '\\.')}`),
  );
  assert.match(refused[0]!.stderr, /NOOPS_E_DEPLOY_LOCKED/);
  assert.deepEqual(
    (await apiOf(C).history(FLEET)).map((h) => h.id),
    [d.id],
    'the database holds the accepted one only',
  );
  await endedVia(nodes, d.id); // the cluster is free again for the tests after this one
});

test('a team token revoked through server A is refused by server C at once', { skip: SKIP, timeout: 120_000 }, async (t) => {
  await setUp();
  const [A, B, C] = nodes.map((n) => n.proc) as [ServerProc, ServerProc, ServerProc];
  const created = await cli(A, ['token', 'create', '--name', 'ci', '--scope', JOB, '--role', 'viewer', '--json']);
  assert.equal(created.code, 0, created.stderr);
  const [token] = JSON.parse(created.stdout) as { token: string; id: string }[];
  const whoami = async (s: ServerProc): Promise<number> =>
    (await fetch(`${s.url}/api/v1/whoami`, { headers: { authorization: `Bearer ${token!.token}` } })).status;
  // every server knows it (and may remember it) before the revoke
  assert.deepEqual(await Promise.all([A, B, C].map(whoami)), [200, 200, 200]);
  const revoked = await cli(A, ['token', 'revoke', token!.id]);
  assert.equal(revoked.code, 0, revoked.stderr);
  const t0 = Date.now();
  await until('server C to refuse the revoked token', async () => (await whoami(C)) === 401, REVOKE_DEADLINE_MS, 10);
  t.diagnostic(`refused by C ${Date.now() - t0} ms after the revoke returned`);
  assert.equal(await whoami(B), 401);
});

/** Waits until the deployment's second batch is in flight (it must still be running). */
function secondBatchInFlight(via: ServerNode[], id: number): Promise<DeploymentView> {
  return until(
    'the second batch in flight',
    async () => {
      const d = await deploymentVia(via, id);
      if (d.status !== 'running') throw new Error(`it ended before: ${d.status}: ${d.message}`);
      return d.progress!.batch >= 1 && d.progress!.phase === 'deploying' && d;
    },
    60_000,
    50,
  );
}

/** A slow rollout of FLEET to `version` (a batch per host, each healthy for HEALTHY_FOR), sent to `via`. */
const slowDeploy = (via: ServerNode, version: string): Promise<DeploymentView> =>
  deploy(via.proc, FLEET, version, ['--batch', '1', '--healthy-for', HEALTHY_FOR]);

/** Asserts that the deployment's log says one of `survivors` took the rollout over and resumed it. */
function assertTakenOver(d: DeploymentView, survivors: ServerNode[]): void {
  const log = d.progress!.log.map((l) => l.message);
  const by = log.map((m) => /^server (\S+) took the rollout loop over; resuming/.exec(m)?.[1]).filter((id) => id !== undefined);
  assert.ok(by.length > 0 && by.every((id) => survivors.some((n) => n.id === id)), log.join('\n'));
}

const threeBatches = ['batch 1 of 3: h2', 'batch 2 of 3: h3', 'batch 3 of 3: h4'];

test('a rollout whose leading server is SIGKILLed mid-batch finishes on another', {
  skip: SKIP,
  timeout: 120_000,
}, async (t) => {
  await setUp();
  const leader = await rolloutLeader(nodes, nodes, 'a rollout leader');
  const others = nodes.filter((n) => n !== leader);
  const v2 = await build('hello v2');
  // sent to a server that does not lead: the leader steps it
  const d = await slowDeploy(others[0]!, v2);
  await secondBatchInFlight(others, d.id);
  const killedAt = Date.now();
  await leader.proc.stop('SIGKILL');
  const next = await rolloutLeader(nodes, others, 'another server leading rollout', (id) => id !== leader.id, 5 * LEASE_MS + 10_000);
  t.diagnostic(`server ${next.id} leads rollout ${Date.now() - killedAt} ms after ${leader.id} was killed (lease ${LEASE_MS} ms)`);
  const done = await endedVia(nodes, d.id);
  assert.equal(done.status, 'succeeded', done.message ?? '');
  assert.deepEqual(
    Object.values(done.progress!.hosts).map((h) => h.state),
    FLEET_HOSTS.map(() => 'succeeded'),
  );
  assert.deepEqual(batchLines(done), threeBatches, 'each batch started once');
  assertTakenOver(done, others);
  await assertServing(
    next.proc,
    FLEET,
    FLEET_HOSTS.map((h) => `${h}:${v2}:hello v2`),
  );
  const r = await cli(next.proc, ['servers', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const leaders = (JSON.parse(r.stdout) as ServerRow[]).filter((x) => x.leads.includes('rollout')).map((x) => x.id);
  assert.equal(leaders.length, 1, r.stdout);
  assert.notEqual(leaders[0], leader.id, r.stdout);
  // back to three servers for the next test: the same folder, port and id
  leader.proc = await launchNode(leader.id, leader.port);
});

test('a leader paused (SIGSTOP) past its lease, then resumed, writes nothing: its deployment ends under the new leader', {
  skip: SKIP,
  timeout: 120_000,
}, async (t) => {
  await setUp();
  await until('three servers answering', async () => (await Promise.all(nodes.map((n) => listServers(n.proc)))).every(Boolean), 30_000);
  const leader = await rolloutLeader(nodes, nodes, 'a rollout leader');
  const others = nodes.filter((n) => n !== leader);
  const v3 = await build('hello v3');
  const d = await slowDeploy(others[0]!, v3);
  await secondBatchInFlight(others, d.id);
  leader.proc.child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  const next = await rolloutLeader(nodes, others, 'another server leading rollout', (id) => id !== leader.id, 5 * LEASE_MS + 10_000);
  t.diagnostic(`server ${next.id} leads rollout ${Date.now() - stoppedAt} ms after ${leader.id} was paused (lease ${LEASE_MS} ms)`);
  // The new leader steps the deployment: what the paused one holds in memory is now stale.
  const atTakeover = (await deploymentVia(others, d.id)).progress!.log.length;
  await until(
    'the new leader to write the deployment',
    async () => {
      const x = await deploymentVia(others, d.id);
      return x.status !== 'running' || x.progress!.log.length > atTakeover;
    },
    30_000,
    50,
  );
  const mark = leader.proc.output().length;
  const lineOf = (l: { at: string; message: string }): string => `${l.at} ${l.message}`;
  let last = (await deploymentVia(others, d.id)).progress!.log.map(lineOf);
  leader.proc.child.kill('SIGCONT');
  // Watched from now to its end, the log only grows: a stale write from the resumed server would take it back.
  let wentBack = '';
  const done = await until(
    'the deployment to end',
    async () => {
      const x = await deploymentVia(nodes, d.id);
      const now = x.progress!.log.map(lineOf);
      if (!wentBack && last.some((l, i) => now[i] !== l)) wentBack = `before:\n${last.join('\n')}\nthen:\n${now.join('\n')}`;
      last = now;
      return x.status !== 'running' && x;
    },
    90_000,
    50,
  );
  assert.equal(wentBack, '', 'the log went back: a server that lost its lease wrote');
  assert.equal(done.status, 'succeeded', done.message ?? '');
  assert.deepEqual(batchLines(done), threeBatches, 'each batch started once');
  assertTakenOver(done, others);
  await assertServing(
    next.proc,
    FLEET,
    FLEET_HOSTS.map((h) => `${h}:${v3}:hello v3`),
  );
  // The resumed server answers again, and no longer claims rollout.
  await until(
    'the resumed server to stop claiming rollout',
    async () => {
      const rows = await listServers(leader.proc);
      const claims = rows?.filter((x) => x.leads.includes('rollout')).map((x) => x.id);
      return claims?.length === 1 && claims[0] !== leader.id;
    },
    5 * LEASE_MS,
    50,
  );
  const r = await cli(leader.proc, ['servers', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const row = (JSON.parse(r.stdout) as ServerRow[]).find((x) => x.id === leader.id);
  assert.ok(row && !row.leads.includes('rollout'), r.stdout);
  // Either it tried and the database refused it, or it never tried: both show above as a log
  // that only grew; which one is told here.
  const said = leader.proc.output().slice(mark);
  t.diagnostic(
    said.includes('NOOPS_E_FENCED')
      ? `the resumed server's write was refused: ${said.split('\n').find((l) => l.includes('NOOPS_E_FENCED'))}`
      : 'the resumed server wrote nothing after the takeover',
  );
});
