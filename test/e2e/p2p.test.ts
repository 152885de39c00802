/**
 * Packages peer to peer (issue 19, docs/packages-p2p.md): a real server and three real agents.
 * A release goes to one host at a time; each batch's start stages the package for the next
 * batch's host, which fetches it ahead; the hosts fetch pieces from each other, and the server
 * sends about one copy.
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

const JOB = 'cop.acme_owt.web_pdl.shop_service.p2p_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const HOSTS = ['h1', 'h2', 'h3'] as const;
const base = tmp('p2p');
const roots = Object.fromEntries(HOSTS.map((h) => [h, join(base, `agent-${h}`)])) as Record<(typeof HOSTS)[number], string>;
let server: ServerProc;
const agents: Partial<Record<(typeof HOSTS)[number], Proc>> = {};

after(async () => {
  for (const a of Object.values(agents)) await a.stop();
  await server?.stop();
  for (const r of Object.values(roots)) killSupervised(r);
  cleanup([base]);
});

/** The agent's line for its download of `sha256`: bytes from peers and from the server. */
function downloadOf(out: string, sha256: string): { peers: number; server: number } | undefined {
  const m = new RegExp(`package ${sha256.slice(0, 12)}: \\d+ pieces, (\\d+) bytes from peers, (\\d+) bytes from the server`).exec(out);
  return m ? { peers: Number(m[1]), server: Number(m[2]) } : undefined;
}

test('the hosts of later batches fetch the release ahead, from each other, not from the server', { timeout: 300_000 }, async () => {
  server = await startServer(join(base, 'server'), await freePort());
  // the same rack: the tracker prefers peers of the host's own rack
  for (const h of HOSTS) agents[h] = startAgent(server, roots[h], h, 'rack=r1');
  await until('three hosts joined', async () => (await cliJson<HostView[]>(server, ['hosts'])).length === 3, 60_000);
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', HOSTS.join(',')])).code, 0);
  // 4 MB that do not compress: a package of four pieces
  const repoDir = join(base, 'repo');
  const repo = makeAppRepo(repoDir);
  writeFileSync(join(repoDir, 'blob.bin'), randomBytes(4 * 1024 * 1024));
  const commit = repo.commit('peer to peer');
  const b = await cli(server, ['build', '-u', repoDir, '-t', JOB, '-v', commit]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  const version = commit.slice(0, 9);
  const release = (await cliJson<ReleaseView[]>(server, ['releases', '-t', JOB])).find((r) => r.version === version)!;
  assert.ok(release.size > 4 * 1024 * 1024, `the package is ${release.size} bytes`);

  // one host per batch: each host's download starts after the one before it has the release
  const d = await cli(server, ['deploy', '-t', CLUSTER, '-v', version, '--batch', '1']);
  assert.equal(d.code, 0, d.stdout + d.stderr);
  await until(
    'every host runs the release',
    async () => {
      const ps = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
      return ps.length === 3 && ps.every((p) => p.version === version && p.state === 'up');
    },
    120_000,
  );
  const got = Object.fromEntries(HOSTS.map((h) => [h, downloadOf(agents[h]!.output(), release.sha256)]));
  for (const h of HOSTS) assert.ok(got[h], `${h} downloaded in pieces:\n${agents[h]!.output()}`);
  for (const h of HOSTS) assert.equal(got[h]!.peers + got[h]!.server, release.size, `${h}: every byte once`);
  // the hosts of the second and third batches fetched it ahead, as the batch before theirs started
  const ahead = HOSTS.filter((h) => /the package of \w+ is fetched ahead of this host's batch/.test(agents[h]!.output()));
  assert.equal(ahead.length, 2, `two hosts fetched ahead: ${ahead.join(', ')}`);
  for (const h of HOSTS) {
    const lines = agents[h]!.output().match(new RegExp(`package ${release.sha256.slice(0, 12)}: \\d+ pieces`, 'g')) ?? [];
    assert.equal(lines.length, 1, `${h} downloaded the package once (fetched ahead, its install found it in the cache)`);
  }
  // from each other: the server sent about one copy, not three
  assert.ok(HOSTS.filter((h) => got[h]!.peers > 0).length >= 2, JSON.stringify(got));
  const fromServer = HOSTS.reduce((s, h) => s + got[h]!.server, 0);
  assert.ok(fromServer < 2 * release.size, `the server sent ${fromServer} bytes in all, less than two packages of ${release.size}`);
  // and the first host served them: its peer server counted what it sent (its log has no refusals)
  for (const h of HOSTS) assert.doesNotMatch(agents[h]!.output(), /refused a peer's request/);
});
