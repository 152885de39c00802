/**
 * Who processes run as, end to end, with a real server and an agent running as root: a deployed
 * app runs as the unprivileged `noops` user the agent created, can write its data folder and
 * cannot read the agent's state or token; a release that says `user: root` is refused at deploy
 * until the server's admin allows root for the cluster, and then runs as uid 0; a team token
 * cannot allow root.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostView, InstanceView, RootGrantView, TokenCreated } from '../../src/api/index.js';
import {
  cleanup,
  cli,
  cliJson,
  freePort,
  git,
  killSupervised,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.who_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const base = tmp('user');
const root = join(base, 'agent-h1');
let server: ServerProc;
let agent: Proc;

after(async () => {
  await agent?.stop();
  await server?.stop();
  killSupervised(root);
  cleanup([base]);
});

/** What the app sees of itself: its uid, whether it can write its data folder, and what it gets reading the agent's files. */
interface Seen {
  uid: number;
  wroteData: string;
  stateJson: string;
  agentJson: string;
  ctlDir: string;
}

const APP = `
const fs = require('fs');
const path = require('path');
const agentRoot = path.resolve(process.env.NOOPS_DATA_DIR, '../../../..');
const attempt = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.code || e.message; } };
require('http').createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({
    uid: process.getuid(),
    wroteData: attempt(() => fs.writeFileSync(path.join(process.env.NOOPS_DATA_DIR, 'probe'), String(process.pid))),
    stateJson: attempt(() => fs.readFileSync(path.join(agentRoot, 'state.json'))),
    agentJson: attempt(() => fs.readFileSync(path.join(agentRoot, 'agent.json'))),
    ctlDir: attempt(() => fs.readdirSync(path.join(agentRoot, 'run'))),
  }));
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

/** Commits the app with a noops.yaml whose web process has `user` (none: no `user:` key). */
function commit(dir: string, user: string | undefined, message: string): string {
  writeFileSync(join(dir, 'server.js'), APP);
  writeFileSync(join(dir, 'noops.yaml'), `processes:\n  web:\n    command: node server.js\n${user ? `    user: ${user}\n` : ''}`);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

async function seen(): Promise<Seen & { version: string }> {
  const [p] = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
  assert.ok(p?.port, 'the web process has a port');
  const res = await fetch(`http://127.0.0.1:${p.port}/`);
  return { ...((await res.json()) as Seen), version: p.version };
}

test("processes run as the agent's unprivileged user; root only where the admin allowed it", { timeout: 300_000 }, async (t) => {
  server = await startServer(join(base, 'server'), await freePort());
  agent = startAgent(server, root, 'h1');
  await until(
    'h1 joined',
    async () => (await cliJson<HostView[]>(server, ['hosts'])).some((h) => h.name === 'h1' && h.status === 'up'),
    60_000,
  );
  const repo = join(base, 'repo');
  git(base, 'init', '-q', repo);
  const c1 = commit(repo, undefined, 'no user');
  const c2 = commit(repo, 'root', 'as root');
  const [v1, v2] = [c1.slice(0, 9), c2.slice(0, 9)];
  for (const c of [c1, c2]) assert.equal((await cli(server, ['build', '-u', repo, '-t', JOB, '-v', c])).code, 0);
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', 'h1'])).code, 0);

  await t.test("with no user:, the app runs as noops: it writes its data folder, and cannot read the agent's state or token", async () => {
    const noopsUid = Number(execFileSync('id', ['-u', 'noops'], { encoding: 'utf8' }).trim());
    assert.notEqual(noopsUid, 0);
    const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', v1]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(await seen(), {
      uid: noopsUid,
      wroteData: 'ok',
      stateJson: 'EACCES',
      agentJson: 'EACCES',
      ctlDir: 'EACCES',
      version: v1,
    });
  });

  await t.test('user: root without a grant is refused at deploy, naming the command that allows it; nothing changes', async () => {
    const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', v2]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NOOPS_E_ROOT_NOT_ALLOWED/);
    assert.match(r.stderr, /process web \(user root\)/);
    assert.ok(r.stderr.includes(`noops root allow --scope ${CLUSTER}`), r.stderr);
    assert.equal((await seen()).version, v1, 'v1 still runs');
    const history = await cliJson<{ version: string }[]>(server, ['history', '-t', CLUSTER]);
    assert.deepEqual(
      history.map((h) => h.version),
      [v1],
      'no deployment was started',
    );
  });

  await t.test('a team token, even a team admin, cannot allow root or list the grants (403)', async () => {
    const res = await fetch(`${server.url}/api/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'team', name: 'web-team', scope: JOB, role: 'admin' }),
    });
    assert.equal(res.status, 201);
    const team = ((await res.json()) as TokenCreated).token;
    const allow = await fetch(`${server.url}/api/v1/grants/root`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${team}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: CLUSTER }),
    });
    assert.equal(allow.status, 403);
    assert.equal(((await allow.json()) as { code: string }).code, 'NOOPS_E_FORBIDDEN');
    const viaCli = await cli(server, ['root', 'allow', '--scope', CLUSTER], { env: { NOOPS_TOKEN: team } });
    assert.notEqual(viaCli.code, 0);
    assert.match(viaCli.stderr, /NOOPS_E_FORBIDDEN/);
    assert.equal((await cli(server, ['root', 'ls'], { env: { NOOPS_TOKEN: team } })).code === 0, false);
    assert.deepEqual(await cliJson<RootGrantView[]>(server, ['root', 'ls']), [], 'nothing was allowed');
  });

  await t.test('after `noops root allow`, the same release deploys and runs as uid 0; audited', async () => {
    const allow = await cli(server, ['root', 'allow', '--scope', CLUSTER]);
    assert.equal(allow.code, 0, allow.stderr);
    const grants = await cliJson<RootGrantView[]>(server, ['root', 'ls']);
    assert.deepEqual(
      grants.map((g) => [g.scope, g.createdBy]),
      [[CLUSTER, 'admin']],
    );
    const r = await cli(server, ['deploy', '-t', CLUSTER, '-v', v2]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const s = await seen();
    assert.deepEqual([s.version, s.uid], [v2, 0]);
    const audit = await cliJson<{ action: string; target: string }[]>(server, ['audit']);
    assert.ok(
      audit.some((a) => a.action === 'root.allow' && a.target === CLUSTER),
      JSON.stringify(audit),
    );
  });

  await t.test('after `noops root deny`, a deploy of the root release is refused again; back to v1 as noops', async () => {
    assert.equal((await cli(server, ['root', 'deny', '--scope', CLUSTER])).code, 0);
    assert.deepEqual(await cliJson<RootGrantView[]>(server, ['root', 'ls']), []);
    const again = await cli(server, ['deploy', '-t', CLUSTER, '-v', v2]);
    assert.match(again.stderr, /NOOPS_E_ROOT_NOT_ALLOWED/);
    const back = await cli(server, ['deploy', '-t', CLUSTER, '-v', v1]);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.notEqual((await seen()).uid, 0);
  });
});
