/**
 * The scheduler end to end (issue 18, docs/scheduler.md): a real server (`--down-after 3s`) and
 * four real agents whose capacities are set by `--capacity`, a job built from a git repository,
 * and the CLI as a user runs it. A scheduled cluster is placed where `noops cluster plan` said and
 * deployed there; naming answers from exactly its hosts through a scale up and down, an agent
 * killed with its processes (its instance runs elsewhere, and once it is back its stale copy is
 * stopped and nothing moves back), a drain, and a rebalance that keeps within its budget.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiClient,
  clusterPlacements,
  type ClusterPlanView,
  type ClusterView,
  type NamingAnswer,
  type PlacementEventView,
  type RebalanceView,
} from '../../src/api/index.js';
import { procAlive } from '../../src/supervisor/index.js';
import {
  cleanup,
  cli,
  cliJson,
  freePort,
  killSupervised,
  makeAppRepo,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.sched_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const SIDE = `${JOB}_cluster.side`;
const HOSTS = ['s1', 's2', 's3', 's4'] as const;
/**
 * s1 and s2 are the biggest: an empty fleet's first two instances go there (docs/scheduler.md,
 * "Scorers"). Each host holds one instance of the prod cluster (1 core of 1.5), so its instances
 * are on as many hosts (replicas on one host are test/e2e/replicas.test.ts's), with room for the
 * side cluster's 0.5 core beside one.
 */
const CAPACITY: Record<string, string> = {
  s1: 'cpu=1.5,memory=8G',
  s2: 'cpu=1.5,memory=8G',
  s3: 'cpu=1.5,memory=4G',
  s4: 'cpu=1.5,memory=4G',
};
/** How long a change may take to show on a loaded 2-core machine (down_after + a tick + a deploy, with room). */
const WAIT_MS = 90_000;

const base = tmp('schedule');
const roots = Object.fromEntries(HOSTS.map((h) => [h, join(base, `agent-${h}`)])) as Record<string, string>;
let server: ServerProc;
let api: ApiClient;
const agents: Record<string, Proc> = {};
let v1 = '';

function start(h: string): Proc {
  return startAgent(server, roots[h]!, h, 'rack=r1', {}, ['--capacity', CAPACITY[h]!]);
}

async function cluster(tag: string): Promise<ClusterView> {
  const c = (await cliJson<ClusterView[]>(server, ['cluster', 'ls'])).find((x) => x.tag === tag);
  assert.ok(c, `no cluster ${tag}`);
  return c;
}

/** The hosts naming answers for `tag` (`noops resolve --json`), sorted. */
async function named(tag: string): Promise<string[]> {
  const r = await cli(server, ['resolve', tag, '--json']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return (JSON.parse(r.stdout) as NamingAnswer).endpoints.map((e) => e.host).sort();
}

/** Waits until the cluster's hosts are `count` hosts and naming answers from exactly those; answers them. */
async function settled(tag: string, count: number, what: string, without?: string): Promise<string[]> {
  return until(
    what,
    async () => {
      const hosts = [...(await cluster(tag)).hosts].sort();
      if (hosts.length !== count || (without !== undefined && hosts.includes(without))) return false;
      const answer = await named(tag);
      return JSON.stringify(answer) === JSON.stringify(hosts) && hosts;
    },
    WAIT_MS,
    250,
  );
}

async function events(tag: string): Promise<PlacementEventView[]> {
  return clusterPlacements(api, tag, { limit: 100 });
}

/** The pid of the tag's web process in an agent's state file, if it runs one there. */
function pidOn(h: string, tag: string): number | undefined {
  const file = join(roots[h]!, 'state.json');
  if (!existsSync(file)) return undefined;
  const state = JSON.parse(readFileSync(file, 'utf8')) as { instances: Record<string, { processes: Record<string, { pid: number }> }> };
  return state.instances[tag]?.processes.web?.pid;
}

before(async () => {
  server = await startServer(join(base, 'server'), await freePort(), ['--down-after', '3s']);
  api = new ApiClient(server.url, server.adminToken);
  for (const h of HOSTS) agents[h] = start(h);
  await until(
    'four hosts up with their capacity',
    async () => {
      const hosts = await cliJson<{ status: string; capacity?: { cpu: number } }[]>(server, ['hosts']);
      return hosts.filter((h) => h.status === 'up' && h.capacity).length === 4;
    },
    WAIT_MS,
  );
  // the scheduler places only on hosts assigned to a node above the cluster
  for (const h of HOSTS) {
    const a = await cli(server, ['host', 'assign', h, '--scope', 'cop.acme_owt.web']);
    assert.equal(a.code, 0, a.stdout + a.stderr);
  }
  const repo = join(base, 'repo');
  v1 = makeAppRepo(repo).commit('scheduled').slice(0, 9);
  const b = await cli(server, ['build', '-u', repo, '-t', JOB, '-v', v1]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
});

after(async () => {
  for (const a of Object.values(agents)) await a.stop('SIGKILL');
  await server?.stop();
  for (const r of Object.values(roots)) killSupervised(r);
  cleanup([base]);
});

test('a scheduled cluster is placed as planned, scaled, moved off a dead and a drained host, and rebalanced within its budget', {
  timeout: 600_000,
}, async () => {
  // 1. placed as `cluster plan` said, then deployed there: naming answers from exactly those hosts
  const set = await cli(server, ['cluster', 'set', '-t', CLUSTER, '--count', '2', '--cpu', '1', '--memory', '512M']);
  assert.equal(set.code, 0, set.stdout + set.stderr);
  const plan = await cliJson<ClusterPlanView>(server, ['cluster', 'plan', '-t', CLUSTER]);
  const planned = plan.placements.map((p) => p.host).sort();
  assert.deepEqual(planned, ['s1', 's2'], JSON.stringify(plan));
  assert.equal(plan.unplaced, 0);
  await until(
    'the loop placed the cluster as planned',
    async () => [...(await cluster(CLUSTER)).hosts].sort().join() === planned.join(),
    WAIT_MS,
  );
  const deploy = await cli(server, ['deploy', '-t', CLUSTER, '-v', v1]);
  assert.equal(deploy.code, 0, deploy.stdout + deploy.stderr);
  assert.deepEqual(await settled(CLUSTER, 2, 'naming to answer from the two placed hosts'), planned);
  assert.deepEqual(
    (await events(CLUSTER))
      .filter((e) => e.kind === 'place')
      .map((e) => e.to)
      .sort(),
    planned,
  );

  // 2. scaled up to 3 and down to 2: naming follows
  const up = await cliJson<ClusterPlanView>(server, ['scale', '-t', CLUSTER, '--count', '3']);
  assert.equal(up.placements.length, 3, JSON.stringify(up));
  const three = await settled(CLUSTER, 3, 'naming to answer from three hosts');
  assert.deepEqual(three, up.placements.map((p) => p.host).sort());
  const down = await cliJson<ClusterPlanView>(server, ['scale', '-t', CLUSTER, '--count', '2']);
  assert.equal(down.placements.length, 2, JSON.stringify(down));
  const two = await settled(CLUSTER, 2, 'naming to answer from two hosts after the scale down');
  assert.ok(
    two.every((h) => three.includes(h)),
    `${two} is not within ${three}`,
  );
  const gone = three.find((h) => !two.includes(h))!;
  await until('the scaled-down copy stopped', () => pidOn(gone, CLUSTER) === undefined, WAIT_MS);

  // 3. an agent killed with its processes: its instance runs elsewhere; back again, its stale copy
  //    is stopped and the cluster does not move back
  const dead = two[0]!;
  const deadPid = pidOn(dead, CLUSTER);
  assert.ok(deadPid, `no pid of ${CLUSTER} on ${dead}`);
  await agents[dead]!.stop('SIGKILL');
  killSupervised(roots[dead]!);
  const killedAt = Date.now();
  // until the server counts the host down (--down-after 3s), its cluster and naming still hold it
  const moved = await settled(CLUSTER, 2, `the instance on ${dead} to run elsewhere`, dead);
  assert.ok(!moved.includes(dead), `${dead} still serves: ${moved}`);
  process.stdout.write(`# ${dead} killed: its instance healthy elsewhere in naming after ${Date.now() - killedAt} ms\n`);
  assert.ok(
    (await events(CLUSTER)).some((e) => e.kind === 'migrate' && e.from === dead),
    'a migrate event from the dead host',
  );
  agents[dead] = start(dead);
  await until(
    `${dead}'s stale copy stopped`,
    async () => (await events(CLUSTER)).some((e) => e.kind === 'stale' && e.from === dead) && pidOn(dead, CLUSTER) === undefined,
    WAIT_MS,
  );
  assert.equal(procAlive(deadPid, null), false, `pid ${deadPid} still runs`);
  await until(
    'the host back up',
    async () => (await cliJson<{ name: string; status: string }[]>(server, ['hosts'])).some((h) => h.name === dead && h.status === 'up'),
    WAIT_MS,
  );
  // with the host up again, the plan keeps the cluster where it moved (no flapping)
  const ticks = (await events(CLUSTER)).length;
  const replan = await cliJson<ClusterPlanView>(server, ['cluster', 'plan', '-t', CLUSTER]);
  assert.deepEqual(replan.placements.map((p) => p.host).sort(), moved);
  assert.deepEqual([...(await cluster(CLUSTER)).hosts].sort(), moved);
  assert.deepEqual(await named(CLUSTER), moved);
  assert.equal((await events(CLUSTER)).length, ticks, 'no placement changed once the host came back');

  // 4. a drain moves what runs on the host elsewhere
  const drained = moved[0]!;
  const d = await cli(server, ['host', 'drain', drained]);
  assert.equal(d.code, 0, d.stdout + d.stderr);
  const afterDrain = await settled(CLUSTER, 2, `the instance on ${drained} to move and naming to follow the drain`, drained);
  assert.ok(afterDrain.includes(moved[1]!), `the other instance stayed on ${moved[1]}: ${afterDrain}`);
  assert.ok((await events(CLUSTER)).some((e) => e.kind === 'drain' && e.from === drained));
  await until(`the drained copy on ${drained} stopped`, () => pidOn(drained, CLUSTER) === undefined, WAIT_MS);
  assert.equal((await cli(server, ['host', 'undrain', drained])).code, 0);

  // 5. a rebalance within its budget: a small cluster alone on a host the prod cluster does not use
  //    is due to move onto a fuller host (freeing its own)
  const lone = HOSTS.find((h) => !afterDrain.includes(h) && h !== drained)!;
  assert.equal((await cli(server, ['cluster', 'set', '-t', SIDE, '--hosts', lone])).code, 0);
  const sd = await cli(server, ['deploy', '-t', SIDE, '-v', v1]);
  assert.equal(sd.code, 0, sd.stdout + sd.stderr);
  const ss = await cli(server, ['cluster', 'set', '-t', SIDE, '--count', '1', '--cpu', '0.5', '--memory', '128M']);
  assert.equal(ss.code, 0, ss.stdout + ss.stderr);
  assert.deepEqual(await settled(SIDE, 1, 'the side cluster named on its host'), [lone]);
  const dry = await cliJson<RebalanceView>(server, ['rebalance', '--max-moves', '1', '--dry-run']);
  assert.equal(dry.dryRun, true);
  assert.ok(dry.moves.length === 1, JSON.stringify(dry));
  const rb = await cliJson<RebalanceView>(server, ['rebalance', '--max-moves', '1']);
  assert.equal(rb.dryRun, false);
  assert.equal(rb.moves.length, 1, JSON.stringify(rb));
  const [move] = rb.moves;
  assert.deepEqual([move!.tag, move!.from], [SIDE, lone], JSON.stringify(rb));
  assert.ok(afterDrain.includes(move!.to), `moved to a fuller host: ${JSON.stringify(rb)}`);
  assert.deepEqual(await settled(SIDE, 1, 'naming to follow the move'), [move!.to]);
  assert.deepEqual([...(await cluster(CLUSTER)).hosts].sort(), afterDrain, 'the prod cluster did not move');
  await until(`the side copy on ${lone} stopped`, () => pidOn(lone, SIDE) === undefined, WAIT_MS);
  assert.ok((await events(SIDE)).some((e) => e.kind === 'rebalance' && e.from === lone && e.to === move!.to));
});
