/**
 * Load balancers end to end (issue 16): a real server, four real agents (three run the app, one
 * drives the balancers), real HAProxy and nginx started by the test (balancers-harness.ts), and
 * the CLI as the issue spells it. Pools bound to the cluster follow a deploy, a rolling deploy,
 * a rollback, a restart and an undeploy: their members (`host, address, port, tag, version,
 * state`), what HAProxy holds, and the requests through HAProxy and nginx, which reach the new
 * version. A steady client through each balancer during the rolling deploy, the rollback and the
 * restart sees no failed request; through a second nginx driven by noops' Lua control API (`--api`,
 * skipped only without Debian's libnginx-mod-http-lua) a kept-alive client sees none, and nginx
 * is never reloaded. `keepalived -t -f` accepts every file noops writes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BalancerShow, BalancerView, InstanceView } from '../../src/api/index.js';
import { failures, steadyLoad, makeBalancedApp, type AppAnswer, type LoadCount } from './balancers-app.js';
import { KEEPALIVED, nginxLuaMissing, startHaproxy, startNginx, type HaproxyProc, type NginxProc } from './balancers-harness.js';
import {
  cleanup,
  cli,
  cliJson,
  freePort,
  killSupervised,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.front_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
/** The cluster's tag as a pool stores its selector. */
const SELECTOR = 'cop=acme,owt=web,pdl=shop,service=front,job=web,cluster=prod';
const APP_HOSTS = ['a1', 'a2', 'a3'];
const LB_HOST = 'lb';
const HA = 'front-ha';
const NG = 'front-ng';
const LVS = 'front-lvs';
/** nginx driven through noops' Lua control API (--api), without reloads: skipped only when the module is absent */
const NGL = 'front-ngl';
const luaSkip = nginxLuaMissing();

const base = tmp('balancers');
const roots = Object.fromEntries([...APP_HOSTS, LB_HOST].map((h) => [h, join(base, `agent-${h}`)])) as Record<string, string>;
let server: ServerProc;
const agents: Proc[] = [];
let haproxy: HaproxyProc;
let nginx: NginxProc;
let nginxLua: NginxProc | undefined;
const lvsFile = join(base, 'keepalived', 'front.conf');

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await server?.stop();
  await haproxy?.stop();
  await nginx?.stop();
  await nginxLua?.stop();
  Object.values(roots).forEach(killSupervised);
  cleanup([base]);
});

const ok = async (args: string[]): Promise<string> => {
  const r = await cli(server, args);
  assert.equal(r.code, 0, `noops ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
};

const show = (name: string): Promise<BalancerShow> => cliJson<BalancerShow>(server, ['lb', 'show', name]);

/** The pool as `lb show` reads it, straight from the API (for watching it often without a CLI process each time). */
async function showByApi(name: string): Promise<BalancerShow> {
  const res = await fetch(`${server.url}/api/v1/balancers/${name}`, { headers: { authorization: `Bearer ${server.adminToken}` } });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as BalancerShow;
}

/** A pool's members as `host address port tag version state`, sorted by host. */
const membersOf = (s: BalancerShow): string[] =>
  s.members.map((m) => `${m.host} ${m.address} ${m.port} ${m.tag} ${m.version} ${m.state}`).sort();

/** What every app host runs, as the members should list it. */
async function expectedMembers(version: string): Promise<string[]> {
  const rows = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
  assert.deepEqual(
    rows.map((r) => [r.host, r.version]).sort(),
    APP_HOSTS.map((h) => [h, version]),
  );
  return rows.map((r) => `${r.host} 127.0.0.1 ${r.port} ${CLUSTER} ${version} ready`).sort();
}

/** Waits until the pool lists exactly `want` and its agent reports each member applied as `ready`. */
function poolFollows(name: string, want: string[]): Promise<BalancerShow> {
  return until(
    `${name} to list ${JSON.stringify(want)} and report them ready`,
    async () => {
      const s = await show(name);
      const got = membersOf(s);
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`members: ${JSON.stringify(got)}`);
      const unapplied = s.members.filter((m) => m.applied?.state !== 'ready');
      if (unapplied.length > 0) throw new Error(`not applied: ${JSON.stringify(unapplied.map((m) => [m.id, m.applied]))}`);
      return s;
    },
    30_000,
    250,
  );
}

/** HAProxy's servers in the backend: `name addr port op admin` (op 2 running; admin 0 ready, 8 drain, 1 maint). */
async function haproxyServers(): Promise<string[]> {
  const text = await haproxy.command(`show servers state ${haproxy.backend}`);
  return text
    .split('\n')
    .filter((l) => /^\d+ /.test(l))
    .map((l) => l.split(' '))
    .map((f) => `${f[3]} ${f[4]} ${f[18]} ${f[5]} ${f[6]}`)
    .sort();
}

/** `n` answers through a balancer (each a new connection), as `version@host`. */
async function through(url: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(url, { headers: { connection: 'close' } });
    assert.equal(res.status, 200, `through ${url}: ${res.status} ${await res.clone().text()}`);
    const a = (await res.json()) as AppAnswer;
    out.push(`${a.version}@${a.host}`);
  }
  return out;
}

const everyHost = (version: string): string[] => APP_HOSTS.map((h) => `${version}@${h}`);
const distinct = (xs: string[]): string[] => [...new Set(xs)].sort();

/**
 * Runs `during` under a steady client through HAProxy (kept-alive connections: the runtime API
 * changes a pool without a reload), one through nginx (a new connection per request: every
 * nginx reload closes its old workers' idle kept-alive connections, and a request racing that
 * close fails whatever the pool holds) and one through the nginx driven by its Lua control API
 * (kept-alive connections: it is never reloaded); answers the counts.
 */
async function underLoad(during: () => Promise<void>): Promise<{ ha: LoadCount; ng: LoadCount; ngl: LoadCount | undefined }> {
  const ha = steadyLoad(haproxy.url);
  const ng = steadyLoad(nginx.url, 4, false);
  const ngl = nginxLua ? steadyLoad(nginxLua.url) : undefined;
  await until(
    'every client served',
    () => ha.count.total > 20 && ng.count.total > 20 && (ngl === undefined || ngl.count.total > 20),
    10_000,
    20,
  );
  try {
    await during();
  } finally {
    await Promise.all([ha.stop(), ng.stop(), ngl?.stop()]);
  }
  return { ha: ha.count, ng: ng.count, ngl: ngl?.count };
}

/** Through the Lua-driven nginx: no failed request, and no reload (when it runs: else skipped, with the reason). */
function noFailureThroughLua(ngl: LoadCount | undefined): void {
  if (ngl === undefined || nginxLua === undefined) return;
  assert.equal(failures(ngl), 0, `through nginx --api: ${JSON.stringify(ngl)}`);
  assert.equal(nginxLua.reloads(), 0, 'the --api pool never reloads nginx');
}

/** Records the members' states the pool and haproxy show (haproxy's admin state 8: drain) until `stop()`. */
function watchDrains(): { stop(): Promise<Set<string>> } {
  const seen = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const m of (await showByApi(HA)).members) seen.add(`pool ${m.state}`);
      for (const s of await haproxyServers()) seen.add(`haproxy ${s.split(' ')[4]}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}

function keepalivedAccepts(file: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(KEEPALIVED, ['-t', '-f', file], { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

test('load-balancer pools follow deploys, rollbacks, restarts and undeploys, with no failed request', { timeout: 600_000 }, async (t) => {
  server = await startServer(join(base, 'server'), await freePort());
  for (const h of [...APP_HOSTS, LB_HOST]) agents.push(startAgent(server, roots[h]!, h));
  haproxy = await startHaproxy(join(base, 'haproxy'));
  nginx = await startNginx(join(base, 'nginx'), { upstream: NG });
  if (luaSkip) t.diagnostic(`nginx --api skipped: ${luaSkip}`);
  else nginxLua = await startNginx(join(base, 'nginx-lua'), { upstream: NGL, lua: true });
  await until(
    'four hosts up',
    async () => (await cliJson<{ status: string }[]>(server, ['hosts'])).filter((h) => h.status === 'up').length === 4,
    60_000,
  );
  await ok(['cluster', 'set', '-t', CLUSTER, '--hosts', APP_HOSTS.join(',')]);
  const repo = join(base, 'repo');
  const app = makeBalancedApp(repo);
  const c1 = app.commit('hello v1');
  const c2 = app.commit('hello v2');
  const v1 = c1.slice(0, 9);
  const v2 = c2.slice(0, 9);
  await ok(['build', '-u', repo, '-t', JOB, '-v', c1]);
  await ok(['build', '-u', repo, '-t', JOB, '-v', c2]);

  await t.test('lb set, ls and show: three pools on the balancer host, empty before a deploy', async () => {
    await ok([
      'lb',
      'set',
      HA,
      '-t',
      CLUSTER,
      '--host',
      LB_HOST,
      '--driver',
      'haproxy',
      '--socket',
      haproxy.socket,
      '--backend',
      haproxy.backend,
    ]);
    await ok([
      'lb',
      'set',
      NG,
      '-t',
      CLUSTER,
      '--host',
      LB_HOST,
      '--driver',
      'nginx',
      '--file',
      nginx.upstreamFile,
      '--pid-file',
      nginx.pidFile,
    ]);
    mkdirSync(join(base, 'keepalived')); // as /etc/keepalived is: the agent writes the file, not its folder
    const lvsPort = await freePort();
    await ok([
      'lb',
      'set',
      LVS,
      '-t',
      CLUSTER,
      '--host',
      LB_HOST,
      '--driver',
      'keepalived',
      '--file',
      lvsFile,
      '--vip',
      `127.0.0.1:${lvsPort}`,
      '--pid-file',
      join(base, 'keepalived', 'none.pid'),
    ]);
    if (nginxLua) {
      await ok([
        'lb',
        'set',
        NGL,
        '-t',
        CLUSTER,
        '--host',
        LB_HOST,
        '--driver',
        'nginx',
        '--file',
        nginxLua.upstreamFile,
        '--api',
        nginxLua.api!,
      ]);
      assert.equal((await show(NGL)).api, nginxLua.api, 'lb show --json gives the control API');
    }
    const ls = await cliJson<BalancerView[]>(server, ['lb', 'ls']);
    assert.deepEqual(
      ls
        .filter((b) => b.name !== NGL)
        .map((b) => [b.name, b.driver, b.selector, b.host])
        .sort(),
      [
        [HA, 'haproxy', SELECTOR, LB_HOST],
        [NG, 'nginx', SELECTOR, LB_HOST],
        [LVS, 'keepalived', SELECTOR, LB_HOST],
      ].sort(),
    );
    const ha = ls.find((b) => b.name === HA)!;
    assert.deepEqual([ha.socket, ha.backend], [haproxy.socket, haproxy.backend]);
    assert.deepEqual((await show(HA)).members, []);
    const text = await ok(['lb', 'ls']);
    for (const name of [HA, NG, LVS]) assert.match(text, new RegExp(name));
  });

  await t.test('a deploy: every instance joins every pool once healthy, and the requests reach it', async () => {
    await ok(['deploy', '-t', CLUSTER, '-v', v1, '--batch', '100%']);
    const want = await expectedMembers(v1);
    const ha = await poolFollows(HA, want);
    await poolFollows(NG, want);
    if (nginxLua) {
      await poolFollows(NGL, want);
      assert.deepEqual(distinct(await through(nginxLua.url, 6)), everyHost(v1), 'the Lua balancer sends to every member');
    }
    assert.deepEqual(
      await haproxyServers(),
      ha.members.map((m) => `${m.id} ${m.address} ${m.port} 2 0`).sort(),
      'haproxy holds each member, running and ready',
    );
    assert.deepEqual(distinct(await through(haproxy.url, 6)), everyHost(v1), 'round robin over the three');
    assert.deepEqual(distinct(await through(nginx.url, 6)), everyHost(v1));
    const lvs = readFileSync(lvsFile, 'utf8');
    for (const m of ha.members) assert.match(lvs, new RegExp(`real_server ${m.address} ${m.port} \\{\\s*weight 1`));
    const check = await keepalivedAccepts(lvsFile);
    assert.equal(check.code, 0, `keepalived -t -f ${lvsFile}: ${check.output}\n${lvs}`);
  });

  await t.test('a rolling deploy under load: members drain, then v2 joins; no failed request', async () => {
    const drains = watchDrains();
    const { ha, ng, ngl } = await underLoad(async () => {
      await ok(['deploy', '-t', CLUSTER, '-v', v2, '--batch', '1']);
    });
    const seen = await drains.stop();
    assert.equal(failures(ha), 0, `through haproxy: ${JSON.stringify(ha)}`);
    assert.equal(failures(ng), 0, `through nginx: ${JSON.stringify(ng)}`);
    noFailureThroughLua(ngl);
    if (ngl)
      assert.deepEqual(
        Object.keys(ngl.served)
          .filter((k) => k.startsWith(v2))
          .sort(),
        everyHost(v2),
        'the kept-alive client through nginx --api reached v2 on every host',
      );
    assert.ok(seen.has('pool drain') && seen.has('haproxy 8'), `a member was drained: ${[...seen]}`);
    assert.deepEqual(
      Object.keys(ha.served)
        .filter((k) => k.startsWith(v2))
        .sort(),
      everyHost(v2),
      'the steady client reached v2 on every host',
    );
    const want = await expectedMembers(v2);
    const pool = await poolFollows(HA, want);
    await poolFollows(NG, want);
    if (nginxLua) {
      await poolFollows(NGL, want);
      assert.deepEqual(distinct(await through(nginxLua.url, 6)), everyHost(v2));
    }
    assert.deepEqual(await haproxyServers(), pool.members.map((m) => `${m.id} ${m.address} ${m.port} 2 0`).sort());
    assert.deepEqual(distinct(await through(haproxy.url, 6)), everyHost(v2));
    assert.deepEqual(distinct(await through(nginx.url, 6)), everyHost(v2));
    assert.equal((await keepalivedAccepts(lvsFile)).code, 0);
  });

  await t.test('a rollback under load: v1 back in every pool; no failed request', async () => {
    const { ha, ng, ngl } = await underLoad(async () => {
      await ok(['rollback', '-t', CLUSTER, '--to', v1, '--batch', '1']);
    });
    assert.equal(failures(ha), 0, `through haproxy: ${JSON.stringify(ha)}`);
    assert.equal(failures(ng), 0, `through nginx: ${JSON.stringify(ng)}`);
    noFailureThroughLua(ngl);
    const want = await expectedMembers(v1);
    await poolFollows(HA, want);
    await poolFollows(NG, want);
    assert.deepEqual(distinct(await through(haproxy.url, 6)), everyHost(v1));
    assert.deepEqual(distinct(await through(nginx.url, 6)), everyHost(v1));
  });

  await t.test('a restart under load: each host drained before its processes restart; no failed request', async () => {
    const before = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
    const drains = watchDrains();
    const { ha, ng, ngl } = await underLoad(async () => {
      await ok(['restart', '-t', CLUSTER]);
    });
    const seen = await drains.stop();
    assert.ok(seen.has('pool drain') && seen.has('haproxy 8'), `a member was drained: ${[...seen]}`);
    assert.equal(failures(ha), 0, `through haproxy: ${JSON.stringify(ha)}`);
    assert.equal(failures(ng), 0, `through nginx: ${JSON.stringify(ng)}`);
    noFailureThroughLua(ngl);
    const rows = await until('the new pids reported', async () => {
      const now = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
      return now.every((r) => r.state === 'up' && !before.some((b) => b.pid === r.pid)) && now;
    });
    assert.equal(rows.length, APP_HOSTS.length);
    await poolFollows(HA, await expectedMembers(v1));
    await poolFollows(NG, await expectedMembers(v1));
    assert.deepEqual(distinct(await through(haproxy.url, 6)), everyHost(v1));
  });

  await t.test('an undeploy empties every pool: haproxy holds no server, nginx none up, keepalived no real server', async () => {
    await ok(['undeploy', '-t', CLUSTER]);
    await until('the pools empty', async () => (await show(HA)).members.length === 0 && (await show(NG)).members.length === 0, 30_000, 250);
    await until('haproxy holds no server', async () => (await haproxyServers()).length === 0, 30_000, 250);
    assert.equal((await fetch(haproxy.url)).status, 503);
    await until('nginx has no server up', async () => (await fetch(nginx.url)).status === 502, 30_000, 250);
    if (nginxLua) {
      const lua = nginxLua;
      await until('nginx --api has no member', async () => (await show(NGL)).report?.members.length === 0, 30_000, 250);
      await until('nginx --api answers 502', async () => (await fetch(lua.url)).status === 502, 30_000, 250);
    }
    await until('the keepalived file has no real server', () => !readFileSync(lvsFile, 'utf8').includes('real_server'), 30_000, 250);
    const check = await keepalivedAccepts(lvsFile);
    assert.equal(check.code, 0, `keepalived -t -f ${lvsFile}: ${check.output}`);
  });

  await t.test('lb rm: the pool is gone from ls and show', async () => {
    await ok(['lb', 'rm', LVS]);
    const ls = await cliJson<BalancerView[]>(server, ['lb', 'ls']);
    assert.deepEqual(ls.map((b) => b.name).sort(), [HA, NG, ...(nginxLua ? [NGL] : [])].sort());
    const r = await cli(server, ['lb', 'show', LVS, '--json']);
    assert.notEqual(r.code, 0, 'a removed pool is not shown');
  });
});
