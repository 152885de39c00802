/**
 * The containers' address pool end to end (issue 17), no Docker needed: a real server and two
 * real agents. `noops network set` gives each host its own subnet in its desired state (the one
 * its agent polls with its own token), `noops network show` lists them, and a restart of the
 * server keeps them. A process that reports its own address (as a container does) is what
 * `noops resolve` answers and what `noops ps` shows. Only addresses of 198.18.0.0/15.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DesiredState, InstanceView, NamingAnswer, NetworkView } from '../../src/api/index.js';
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

const CLUSTER = 'cop.acme_owt.web_pdl.shop_service.net_job.web_cluster.dev';
const base = tmp('network');
const roots = { n1: join(base, 'agent-n1'), n2: join(base, 'agent-n2') };
let port = 0;
let server: ServerProc;
const agents: Proc[] = [];

async function desiredOf(host: keyof typeof roots): Promise<DesiredState> {
  const { token } = JSON.parse(readFileSync(join(roots[host], 'agent.json'), 'utf8')) as { token: string };
  const res = await fetch(`${server.url}/api/v1/agent/desired?after=-1`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as DesiredState;
}

async function hostsUp(): Promise<void> {
  await until(
    'n1 and n2 up',
    async () => (await cliJson<{ name: string; status: string }[]>(server, ['hosts'])).filter((h) => h.status === 'up').length === 2,
    60_000,
  );
}

before(async () => {
  port = await freePort();
  server = await startServer(join(base, 'server'), port);
  agents.push(startAgent(server, roots.n1, 'n1'), startAgent(server, roots.n2, 'n2'));
  await hostsUp();
});

after(async () => {
  for (const a of agents) await a.stop();
  await server?.stop();
  for (const r of Object.values(roots)) killSupervised(r);
  cleanup([base]);
});

test('each host is given its own subnet of the pool, kept across a restart of the server', { timeout: 180_000 }, async () => {
  const unset = await cli(server, ['network', 'show']);
  assert.notEqual(unset.code, 0);
  assert.match(unset.stderr, /NOOPS_E_NETWORK_UNSET|no address pool/);
  const refused = await cli(server, ['network', 'set', '--pool', '198.18.0.0/16', '--per-host', '16']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /--per-host/);

  const set = await cli(server, ['network', 'set', '--pool', '198.18.0.0/16', '--per-host', '24']);
  assert.equal(set.code, 0, set.stdout + set.stderr);
  assert.match(set.stdout, /pool 198\.18\.0\.0\/16, a \/24 per host \(256 hosts\), driver bridge/);

  const n1 = (await desiredOf('n1')).network;
  const n2 = (await desiredOf('n2')).network;
  assert.ok(n1 && n2, 'both desired states carry a network');
  assert.notEqual(n1.subnet, n2.subnet, 'a second host gets another subnet');
  for (const n of [n1, n2]) {
    assert.match(n.subnet, /^198\.18\.(0|1)\.0\/24$/);
    assert.equal(n.gateway, n.subnet.replace('.0/24', '.1'));
    assert.deepEqual([n.name, n.driver, n.parent], ['noops', 'bridge', null]);
  }
  const shown = await cliJson<NetworkView>(server, ['network', 'show']);
  assert.deepEqual(shown.hosts.map((h) => `${h.host} ${h.subnet}`).sort(), [`n1 ${n1.subnet}`, `n2 ${n2.subnet}`].sort());
  // each agent heard of it (its generation was raised with the pool): it applied the new state
  for (const host of ['n1', 'n2'] as const) {
    const generation = (await desiredOf(host)).generation;
    await until(`${host}'s agent applied generation ${generation}`, () => {
      const state = JSON.parse(readFileSync(join(roots[host], 'state.json'), 'utf8')) as { generation: number };
      return state.generation >= generation;
    });
  }

  // a restart of the server keeps every subnet where it was
  await server.stop();
  server = await startServer(join(base, 'server'), port);
  await hostsUp();
  assert.equal((await desiredOf('n1')).network?.subnet, n1.subnet);
  assert.equal((await desiredOf('n2')).network?.subnet, n2.subnet);
  const again = await cli(server, ['network', 'show']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`n1 +${n1.subnet.replace(/\./g, '\\.')} +${n1.gateway.replace(/\./g, '\\.')}`));
});

test('a process that reports its own address is what naming answers and ps shows', { timeout: 120_000 }, async (t) => {
  // a host of its own whose "agent" is this test: it reports a container with an address of its subnet
  const join_ = await fetch(`${server.url}/api/v1/agent/join`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.joinToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'c1', labels: { address: '198.19.0.9' } }),
  });
  assert.equal(join_.status, 200, await join_.clone().text());
  const { token } = (await join_.json()) as { token: string };
  const desired = (await (
    await fetch(`${server.url}/api/v1/agent/desired?after=-1`, { headers: { authorization: `Bearer ${token}` } })
  ).json()) as DesiredState;
  const address = desired.network!.subnet.replace('.0/24', '.2');
  const at = new Date().toISOString();
  const report = (addr: string | null) =>
    fetch(`${server.url}/api/v1/agent/report`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        generation: desired.generation,
        failures: [],
        processes: [
          {
            tag: CLUSTER,
            process: 'web',
            version: 'abc1234de',
            state: 'up',
            pid: null,
            port: 8080,
            restarts: 0,
            startedAt: at,
            error: null,
            health: 'healthy',
            healthySince: at,
            container: 'c0ffee0123456789',
            address: addr,
          },
        ],
      }),
    });
  // like a real agent, it reports on its own heartbeat: the server (--heartbeat-ms 300) counts a host down
  // after 0.9 s unheard, less than one CLI start takes on a loaded machine (failed so in CI)
  let reported: string | null = address;
  assert.equal((await report(reported)).status, 200);
  const heartbeat = setInterval(() => void report(reported).catch(() => undefined), 150);
  t.after(() => clearInterval(heartbeat));
  const answer = await until('naming answers with the container address', async () => {
    const r = await cliJson<NamingAnswer>(server, ['resolve', CLUSTER]);
    return r.endpoints.length === 1 && r.endpoints[0]?.address === address && r;
  });
  assert.deepEqual(
    answer.endpoints.map((e) => [e.host, e.address, e.port]),
    [['c1', address, 8080]],
  );
  const ps = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
  assert.deepEqual(
    ps.map((p) => [p.host, p.container, p.address]),
    [['c1', 'c0ffee0123456789', address]],
  );
  const table = await cli(server, ['ps', '-t', CLUSTER]);
  assert.match(table.stdout, /ADDRESS/);
  assert.ok(table.stdout.includes(address), table.stdout);

  // without an address of its own, the process is reached at its host's (its `address` label)
  reported = null;
  assert.equal((await report(reported)).status, 200);
  const hostAddressed = await until('naming answers with the host address', async () => {
    const r = await cliJson<NamingAnswer>(server, ['resolve', CLUSTER]);
    return r.endpoints[0]?.address === '198.19.0.9' && r;
  });
  assert.equal(hostAddressed.endpoints.length, 1);
});
