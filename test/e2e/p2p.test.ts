/**
 * Packages peer to peer (issue 19, docs/packages-p2p.md): a real server and three real agents.
 * A release goes to one host at a time; each batch's start stages the package for the next
 * batch's host, which fetches it ahead; the hosts fetch pieces from each other, and the server
 * sends about one copy. Then the same with two servers on one PostgreSQL, the agents polling the
 * one that does not step the rollout (when NOOPS_TEST_PG_URL is set).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostView, InstanceView, ReleaseView } from '../../src/api/index.js';
import {
  cleanup,
  cli,
  cliJson,
  createTestDatabase,
  freePort,
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
import { leadersOf } from './servers-fleet.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.p2p_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const HOSTS = ['h1', 'h2', 'h3'] as const;
type Host = (typeof HOSTS)[number];
const PG_URL = process.env.NOOPS_TEST_PG_URL;
const base = tmp('p2p');
const servers: ServerProc[] = [];
const agents: Proc[] = [];
const roots: string[] = [];
let db: TestDatabase | undefined;

after(async () => {
  for (const a of agents) await a.stop();
  for (const s of servers) await s.stop();
  roots.forEach(killSupervised);
  await db?.drop();
  cleanup([base]);
});

/** The agent's line for its download of `sha256`: bytes from peers and from the server. */
function downloadOf(out: string, sha256: string): { peers: number; server: number } | undefined {
  const m = new RegExp(`package ${sha256.slice(0, 12)}: \\d+ pieces, (\\d+) bytes from peers, (\\d+) bytes from the server`).exec(out);
  return m ? { peers: Number(m[1]), server: Number(m[2]) } : undefined;
}

/** Starts the three hosts' agents in `dir`, each polling `url` (a server, or a list). */
function startHosts(dir: string, url: string, joinToken: string): Record<Host, Proc> {
  const out = {} as Record<Host, Proc>;
  for (const h of HOSTS) {
    roots.push(join(dir, `agent-${h}`));
    // the same rack: the tracker prefers peers of the host's own rack
    out[h] = startAgent({ url, joinToken }, roots.at(-1)!, h, 'rack=r1');
    agents.push(out[h]);
  }
  return out;
}

/**
 * Builds a 9 MiB release through `via`, deploys it one host per batch, and checks that the
 * hosts of the second and third batches fetched it ahead, each downloaded it once, and mostly
 * from each other.
 */
async function deployFetchingAhead(via: ServerProc, hosts: Record<Host, Proc>, dir: string): Promise<void> {
  await until('three hosts joined', async () => (await cliJson<HostView[]>(via, ['hosts'])).length === 3, 60_000);
  assert.equal((await cli(via, ['cluster', 'set', '-t', CLUSTER, '--hosts', HOSTS.join(',')])).code, 0);
  // 9 MiB that do not compress: a package of three pieces (4 MiB each, the last one the rest)
  const repoDir = join(dir, 'repo');
  const repo = makeAppRepo(repoDir);
  writeFileSync(join(repoDir, 'blob.bin'), randomBytes(9 * 1024 * 1024));
  const commit = repo.commit('peer to peer');
  const b = await cli(via, ['build', '-u', repoDir, '-t', JOB, '-v', commit]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  const version = commit.slice(0, 9);
  const release = (await cliJson<ReleaseView[]>(via, ['releases', '-t', JOB])).find((r) => r.version === version)!;
  assert.ok(release.size > 8 * 1024 * 1024, `the package is ${release.size} bytes`);

  // one host per batch: each host's download starts after the one before it has the release
  const d = await cli(via, ['deploy', '-t', CLUSTER, '-v', version, '--batch', '1']);
  assert.equal(d.code, 0, d.stdout + d.stderr);
  await until(
    'every host runs the release',
    async () => {
      const ps = await cliJson<InstanceView[]>(via, ['ps', '-t', CLUSTER]);
      return ps.length === 3 && ps.every((p) => p.version === version && p.state === 'up');
    },
    120_000,
  );
  const got = Object.fromEntries(HOSTS.map((h) => [h, downloadOf(hosts[h].output(), release.sha256)]));
  for (const h of HOSTS) assert.ok(got[h], `${h} downloaded in pieces:\n${hosts[h].output()}`);
  for (const h of HOSTS) assert.equal(got[h]!.peers + got[h]!.server, release.size, `${h}: every byte once`);
  // the hosts of the second and third batches fetched it ahead, as the batch before theirs started
  const ahead = HOSTS.filter((h) => /the package of \w+ is fetched ahead of this host's batch/.test(hosts[h].output()));
  assert.equal(ahead.length, 2, `two hosts fetched ahead: ${ahead.join(', ')}`);
  for (const h of HOSTS) {
    const lines = hosts[h].output().match(new RegExp(`package ${release.sha256.slice(0, 12)}: \\d+ pieces`, 'g')) ?? [];
    assert.equal(lines.length, 1, `${h} downloaded the package once (fetched ahead, its install found it in the cache)`);
  }
  // from each other: the server sent about one copy, not three
  assert.ok(HOSTS.filter((h) => got[h]!.peers > 0).length >= 2, JSON.stringify(got));
  const fromServer = HOSTS.reduce((s, h) => s + got[h]!.server, 0);
  assert.ok(fromServer < 2 * release.size, `the server sent ${fromServer} bytes in all, less than two packages of ${release.size}`);
  // and the first host served them: its peer server counted what it sent (its log has no refusals)
  for (const h of HOSTS) assert.doesNotMatch(hosts[h].output(), /refused a peer's request/);
}

test('the hosts of later batches fetch the release ahead, from each other, not from the server', { timeout: 300_000 }, async () => {
  const dir = join(base, 'alone');
  const server = await startServer(join(dir, 'server'), await freePort());
  servers.push(server);
  await deployFetchingAhead(server, startHosts(dir, server.url, server.joinToken), dir);
});

test('with several servers, the agents polling one that does not step the rollout fetch ahead as well', {
  timeout: 300_000,
  skip: PG_URL ? false : 'set NOOPS_TEST_PG_URL to run it',
}, async () => {
  const dir = join(base, 'several');
  db = await createTestDatabase(PG_URL!, 'noops_e2e_p2p');
  const [a, b] = [join(dir, 'a'), join(dir, 'b')];
  const A = await startServer(a, await freePort(), ['--db', db.url, '--server-id', 'a']);
  servers.push(A);
  shareServerKeys(a, b); // every server of one database signs with one key
  const B = await startServer(b, await freePort(), ['--db', db.url, '--server-id', 'b']);
  servers.push(B);
  const leader = await until(
    'one server leads the rollouts',
    async () => {
      const leaders = await leadersOf(A);
      return leaders?.length === 1 ? leaders[0] : undefined;
    },
    15_000,
    50,
  );
  // the agents poll the other server alone: the answers that name the package come from a server that did not stage it
  const [stepping, polled] = leader === 'a' ? [A, B] : [B, A];
  await deployFetchingAhead(stepping, startHosts(dir, polled.url, A.joinToken), dir);
});
