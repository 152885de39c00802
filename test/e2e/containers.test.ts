/**
 * Containers end to end (issue 17): a real server, a real agent and the host's real Docker
 * Engine. The server's address pool (`noops network set`, a /23 of 198.18.128.0/17 the engine does
 * not use) gives the host its subnet; a job with `driver: container` in noops.yaml runs in
 * containers on their own addresses of that subnet, which `noops ps` and `noops resolve` show,
 * answers HTTP there, rolls forward and back
 * with its volume's data kept, is limited (memory: oom reported; pids), restarts after a crash,
 * ends in flapping in a crash loop, survives an agent restart without a container restart, and
 * never touches a container started by hand.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS, type InstanceView, type NamingAnswer, type NetworkView } from '../../src/api/index.js';
import { connectEngine, ownedFilter, removeTestObjects } from '../../src/agent/containers/index.js';
import {
  cleanup,
  cli,
  cliJson,
  commitFiles,
  freePort,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.box_service.ctr_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const HOST = `ctr-e2e-${process.pid}`;

const base = tmp('containers');
const root = join(base, 'agent');
let server: ServerProc;
let agent: Proc;
let docker: Dockerode;
/** the host's Docker network as the server names it, and the subnet `noops network show` gives the host */
const net = { name: 'noops', subnet: '' };
let byHand: Dockerode.Container;
const versions: string[] = [];

const SERVER_JS = (greeting: string): string => `
const http = require('http');
const fs = require('fs');
const { spawn } = require('child_process');
const greeting = ${JSON.stringify(greeting)};
http.createServer((req, res) => {
  if (req.url === '/write') { fs.writeFileSync('/data/note', greeting); return res.end('written'); }
  if (req.url === '/crash') { res.end('bye'); return setTimeout(() => process.exit(3), 20); }
  if (req.url === '/hog') { const a = []; setInterval(() => a.push(Buffer.alloc(8 << 20, 1)), 10); return res.end('hogging'); }
  if (req.url === '/loop') { fs.writeFileSync(process.env.NOOPS_DATA_DIR + '/loop', '1'); return res.end('looping'); }
  if (req.url === '/pids') {
    let started = 0, failed = 0;
    for (let i = 0; i < 80; i++) { const c = spawn('/bin/sleep', ['3']); c.on('error', () => failed++); if (c.pid) started++; }
    return setTimeout(() => res.end(JSON.stringify({ started, failed })), 300);
  }
  let note = null;
  try { note = fs.readFileSync('/data/note', 'utf8'); } catch {}
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ greeting, note, version: process.env.NOOPS_VERSION }));
}).listen(Number(process.env.PORT), '0.0.0.0');
console.log('serving ' + greeting);
process.on('SIGTERM', () => process.exit(0));
`;

/** A worker that crashes once it ran 1.5 s and web wrote the loop file (it is up first: a crash loop, not a failed start). */
const WORKER_JS = `
const fs = require('fs');
const start = Date.now();
setInterval(() => { if (Date.now() - start > 1500 && fs.existsSync(process.env.NOOPS_DATA_DIR + '/loop')) process.exit(1); }, 200);
`;

const NOOPS_YAML = [
  'driver: container',
  'resources: { memory: 96M, pids: 48 }',
  'volumes: [{ name: data, path: /data }]',
  'processes:',
  '  web:',
  '    command: node server.js',
  '    start_grace: 1',
  '  worker:',
  '    command: node worker.js',
  '    start_grace: 1',
  '    flapping: { times: 3, within: 120, retry_in: 600 }',
  '',
].join('\n');

/** The running container of a process of the cluster, from the engine (by noops' labels). */
async function containerOf(process: string): Promise<Dockerode.ContainerInfo | undefined> {
  const list = await docker.listContainers({
    filters: ownedFilter({ [CONTAINER_LABELS.tag]: CLUSTER, [CONTAINER_LABELS.process]: process, [CONTAINER_LABELS.host]: HOST }),
  });
  return list[0];
}

/** Whether IPv4 `address` lies in `cidr`. */
function inSubnet(address: string, cidr: string): boolean {
  const toInt = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const [baseAddress, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(address) / size) === Math.floor(toInt(baseAddress) / size);
}

/** A /23 of 198.18.128.0/17 that no network of the engine overlaps (each /24 of it unused). */
async function freePool(): Promise<string> {
  const used = new Set<string>();
  for (const n of await docker.listNetworks()) {
    const info = (await docker
      .getNetwork(n.Id)
      .inspect()
      .catch(() => null)) as Dockerode.NetworkInspectInfo | null;
    for (const c of info?.IPAM?.Config ?? []) if (c.Subnet) used.add(c.Subnet);
  }
  // two CIDR blocks overlap when one holds the other's first address
  const overlaps = (pool: string, s: string): boolean => inSubnet(pool.split('/')[0]!, s) || inSubnet(s.split('/')[0]!, pool);
  for (let i = 0; i < 500; i++) {
    const pool = `198.18.${128 + 2 * Math.floor(Math.random() * 64)}.0/23`;
    if (![...used].some((s) => s.includes('.') && overlaps(pool, s))) return pool;
  }
  throw new Error('no free /23 in 198.18.128.0/17');
}

/**
 * The server names every host's Docker network `noops`, so two runs of this file on one engine
 * would make and replace one network: they take turns (a lock folder holding the runner's pid;
 * a dead runner's lock is taken over).
 */
const LOCK = join(tmpdir(), 'noops-e2e-containers.lock');
async function takeEngineLock(): Promise<void> {
  await until(
    'the other containers e2e on this engine to end',
    () => {
      try {
        mkdirSync(LOCK);
        writeFileSync(join(LOCK, 'pid'), String(process.pid));
        return true;
      } catch {
        let holder = Number.NaN;
        try {
          holder = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
        } catch {}
        if (Number.isInteger(holder) && !alive(holder)) rmSync(LOCK, { recursive: true, force: true });
        return false;
      }
    },
    900_000,
    1000,
  );
}
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function addressOf(c: Dockerode.ContainerInfo): string {
  return c.NetworkSettings.Networks[net.name]!.IPAddress;
}

async function web(): Promise<{ greeting: string; note: string | null; version: string; address: string; id: string }> {
  return until(
    'web to answer on its own address',
    async () => {
      const c = await containerOf('web');
      if (!c) return false;
      const r = await fetch(`http://${addressOf(c)}:${port}/`).catch(() => null);
      if (!r?.ok) return false;
      return { ...((await r.json()) as { greeting: string; note: string | null; version: string }), address: addressOf(c), id: c.Id };
    },
    60_000,
  );
}

let port = 0;
async function ps(process: string): Promise<InstanceView> {
  const rows = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
  return rows.find((r) => r.process === process)!;
}

async function deploy(args: string[]): Promise<void> {
  const r = await cli(server, args);
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

before(async () => {
  docker = await connectEngine();
  await takeEngineLock();
  server = await startServer(join(base, 'server'), await freePort());
  agent = startAgent(server, root, HOST, 'rack=r1');
  await until('the host up', async () => (await cliJson<{ status: string }[]>(server, ['hosts'])).some((h) => h.status === 'up'), 60_000);
  const pool = await freePool();
  const set = await cli(server, ['network', 'set', '--pool', pool, '--per-host', '24']);
  assert.equal(set.code, 0, set.stdout + set.stderr);
  const shown = await cliJson<NetworkView>(server, ['network', 'show']);
  net.subnet = shown.hosts.find((h) => h.host === HOST)?.subnet ?? '';
  assert.ok(net.subnet !== '' && inSubnet(net.subnet.split('/')[0]!, pool), `${HOST} has a subnet of ${pool}: ${JSON.stringify(shown)}`);
  const repo = join(base, 'repo');
  for (const greeting of ['one', 'two']) {
    const commit = commitFiles(repo, { 'noops.yaml': NOOPS_YAML, 'server.js': SERVER_JS(greeting), 'worker.js': WORKER_JS }, greeting);
    const v = commit.slice(0, 9);
    versions.push(v);
    const b = await cli(server, ['build', '-u', repo, '-t', JOB, '-v', v]);
    assert.equal(b.code, 0, b.stdout + b.stderr);
  }
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', HOST])).code, 0);
});

after(async () => {
  await agent?.stop();
  await server?.stop();
  await byHand?.remove({ force: true }).catch(() => undefined);
  if (docker) await removeTestObjects(docker, HOST, net.name);
  let holder = '';
  try {
    holder = readFileSync(join(LOCK, 'pid'), 'utf8');
  } catch {}
  if (holder === String(process.pid)) rmSync(LOCK, { recursive: true, force: true });
  cleanup([base]);
});

test('a container job answers on its own address, rolls forward and back with its volume, and logs like a process', {
  timeout: 240_000,
}, async () => {
  await deploy(['deploy', '-t', CLUSTER, '-v', versions[0]!]);
  port = (await ps('web')).port!;
  const first = await web();
  assert.equal(first.greeting, 'one');
  // started by hand in noops' base image (built by the agent now), with a tag label but not noops.owned
  byHand = await docker.createContainer({
    Image: (await docker.getContainer(first.id).inspect()).Config.Image,
    Cmd: ['/bin/sh', '-c', 'sleep 3600'],
    Labels: { [CONTAINER_LABELS.tag]: CLUSTER },
  });
  await byHand.start();
  assert.ok(inSubnet(first.address, net.subnet), `${first.address} is on the host's subnet ${net.subnet}`);
  const row = await until('ps to show the container and its address', async () => {
    const r = await ps('web');
    return r.container === first.id && r.address === first.address && r;
  }).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(await ps('web'))}, the engine's ${first.id} at ${first.address}`);
  });
  assert.equal(row.port, port);
  const answer = await until('resolve to answer the container address', async () => {
    const r = await cliJson<NamingAnswer>(server, ['resolve', CLUSTER]);
    return r.endpoints.some((e) => e.address === first.address) && r;
  });
  assert.deepEqual(
    answer.endpoints.filter((e) => e.process === 'web').map((e) => [e.host, e.address, e.port]),
    [[HOST, first.address, port]],
  );
  assert.equal(await fetch(`http://${first.address}:${port}/write`).then((r) => r.text()), 'written');

  await deploy(['deploy', '-t', CLUSTER, '-v', versions[1]!]);
  const second = await until('v2 answering', async () => ((await web()).greeting === 'two' ? web() : false), 60_000);
  assert.equal(second.note, 'one', 'the volume kept what v1 wrote');
  assert.notEqual(second.id, first.id, 'a new container');

  await deploy(['rollback', '-t', CLUSTER]);
  const back = await until('v1 again', async () => ((await web()).greeting === 'one' ? web() : false), 60_000);
  assert.equal(back.note, 'one', 'the volume kept its data across the rollback too');

  const logs = await cli(server, ['logs', '-t', CLUSTER, '-p', 'web', '-n', '50']);
  assert.equal(logs.code, 0, logs.stderr);
  assert.match(logs.stdout, /serving one/);
});

test('limits: a process over its memory is reported oom and restarted; pids are capped', { timeout: 180_000 }, async () => {
  const before = await web();
  const pids = (await fetch(`http://${before.address}:${port}/pids`).then((r) => r.json())) as { started: number; failed: number };
  assert.ok(pids.failed > 0 && pids.started < 48, `pids capped: ${JSON.stringify(pids)}`);
  const restartsBefore = (await ps('web')).restarts;
  await fetch(`http://${before.address}:${port}/hog`);
  await until(
    'the oom in the events',
    async () => {
      const events = await cliJson<{ kind: string; message: string; name: string }[]>(server, ['events', '-t', CLUSTER]);
      return events.some((e) => e.name === 'web' && e.kind === 'crash' && /killed for memory \(oom\)/.test(e.message));
    },
    60_000,
  );
  await until('web restarted', async () => (await ps('web')).restarts > restartsBefore && (await ps('web')).state === 'up', 60_000);
  const after = await web();
  assert.notEqual(after.id, before.id, 'a new container after the oom');
});

test('a crash restarts the container; a crash loop ends in flapping', { timeout: 180_000 }, async () => {
  const before = await web();
  const restarts = (await ps('web')).restarts;
  await fetch(`http://${before.address}:${port}/crash`);
  await until('web restarted after its crash', async () => (await ps('web')).restarts > restarts, 60_000);
  const again = await web();
  assert.notEqual(again.id, before.id);

  assert.equal(await fetch(`http://${again.address}:${port}/loop`).then((r) => r.text()), 'looping');
  const worker = await until(
    'the worker flapping',
    async () => ((await ps('worker')).state === 'flapping' ? ps('worker') : false),
    120_000,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(await ps('worker'))}\n${agent.output().slice(-3000)}`);
  });
  assert.ok(worker.restarts >= 2, `restarted ${worker.restarts} times first`);
  assert.equal(await containerOf('worker'), undefined, 'no container runs for a flapping process');
});

test('an agent restart adopts the running container; a container started by hand is never touched', { timeout: 120_000 }, async () => {
  const before = await web();
  const restarts = (await ps('web')).restarts;
  await agent.stop();
  assert.equal((await docker.getContainer(before.id).inspect()).State.Running, true, 'the container outlives its agent');
  agent = startAgent(server, root, HOST, 'rack=r1');
  await until(
    'the agent reporting again',
    async () => (await ps('web')).state === 'up' && (await ps('web')).updatedAt > new Date(Date.now() - 2000).toISOString(),
    60_000,
  );
  const after = await web();
  assert.equal(after.id, before.id, 'the same container, not restarted');
  assert.equal((await ps('web')).restarts, restarts);
  const hand = await byHand.inspect();
  assert.equal(hand.State.Running, true, 'the container without labels still runs');
});
