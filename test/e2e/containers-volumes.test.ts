/**
 * Containers' volumes and log catch-up end to end (issue 17): a real server, a real agent with the
 * container driver and the host's real Docker Engine. `noops volume ls --json` lists the volume a
 * running container mounts (in use), `noops volume rm` refuses it (NOOPS_E_VOLUME_IN_USE) and
 * removes it once the cluster is undeployed; the lines a container wrote while its agent was
 * stopped reach the log file once the next agent adopts it, each once and in order.
 *
 * The engine's default bridge is used (no `noops network set`): this file does not take the
 * host network's turn with containers.test.ts, and its cluster and host names carry its pid.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS, type VolumesView } from '../../src/api/index.js';
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

const JOB = 'cop.acme_owt.web_pdl.box_service.ctrvol_job.worker';
const CLUSTER = `${JOB}_cluster.v${process.pid}`;
const HOST = `ctr-vol-${process.pid}`;
/** The engine volume of the worker's `data` volume on this host (`noops-<host>_<tag with dots as _>-<process>-<name>`). */
const VOLUME = `noops-${HOST}_${CLUSTER.replaceAll('.', '_')}-worker-data`;

const base = tmp('containers-volumes');
const root = join(base, 'agent');
const outLog = join(root, 'jobs', CLUSTER, 'shared', 'log', 'worker.out.log');
let server: ServerProc;
let agent: Proc;
let docker: Dockerode;

/** A worker that prints a numbered line every 100 ms and keeps a file in its volume. */
const LOOP_SH = 'echo started > /data/note\ni=0\nwhile :; do i=$((i+1)); echo "line-$i"; sleep 0.1; done\n';
const NOOPS_YAML = [
  'driver: container',
  'volumes: [{ name: data, path: /data }]',
  'processes:',
  '  worker:',
  '    command: sh loop.sh',
  '    start_grace: 1',
  '',
].join('\n');

/** The numbers of the `line-N` lines of the worker's log file, in file order. */
function logged(): number[] {
  if (!existsSync(outLog)) return [];
  return [...readFileSync(outLog, 'utf8').matchAll(/^line-(\d+)$/gm)].map((m) => Number(m[1]));
}

/** The worker's running container, from the engine (by noops' labels). */
async function worker(): Promise<Dockerode.ContainerInfo | undefined> {
  const list = await docker.listContainers({
    filters: ownedFilter({ [CONTAINER_LABELS.tag]: CLUSTER, [CONTAINER_LABELS.process]: 'worker', [CONTAINER_LABELS.host]: HOST }),
  });
  return list[0];
}

/** The highest line the container has written, as the engine keeps it. */
async function writtenBy(id: string): Promise<number> {
  const text = ((await docker.getContainer(id).logs({ stdout: true, stderr: false, follow: false })) as Buffer).toString('latin1');
  return Math.max(0, ...[...text.matchAll(/line-(\d+)/g)].map((m) => Number(m[1])));
}

async function volumesOf(host?: string) {
  const view = await cliJson<VolumesView>(server, ['volume', 'ls', ...(host ? [host] : [])]);
  return view.hosts.find((h) => h.host === HOST);
}

before(async () => {
  docker = await connectEngine();
  server = await startServer(join(base, 'server'), await freePort());
  agent = startAgent(server, root, HOST);
  await until(
    'the host up',
    async () => (await cliJson<{ name: string; status: string }[]>(server, ['hosts'])).some((h) => h.name === HOST && h.status === 'up'),
    60_000,
  );
  const repo = join(base, 'repo');
  const version = commitFiles(repo, { 'noops.yaml': NOOPS_YAML, 'loop.sh': LOOP_SH }, 'worker').slice(0, 9);
  const b = await cli(server, ['build', '-u', repo, '-t', JOB, '-v', version]);
  assert.equal(b.code, 0, b.stdout + b.stderr);
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', HOST])).code, 0);
  const d = await cli(server, ['deploy', '-t', CLUSTER, '-v', version]);
  assert.equal(d.code, 0, d.stdout + d.stderr);
});

after(async () => {
  await agent?.stop();
  await server?.stop();
  if (docker) await removeTestObjects(docker, HOST);
  cleanup([base]);
});

test('the lines a container writes while no agent runs reach its log file once the next agent adopts it', {
  timeout: 120_000,
}, async () => {
  const running = await until('the worker container', () => worker(), 60_000);
  await until('a few lines in the log file', () => logged().length >= 5, 30_000);
  await agent.stop();
  const seen = Math.max(...logged());
  await until('lines written while no agent ran', async () => (await writtenBy(running.Id)) >= seen + 20, 30_000);
  const whileAway = await writtenBy(running.Id);
  agent = startAgent(server, root, HOST);
  await until(
    'the lines of the time without an agent, and later ones, in the log file',
    () => Math.max(0, ...logged()) > whileAway + 3,
    60_000,
  );
  assert.equal((await worker())?.Id, running.Id, 'adopted, not restarted');
  const got = logged();
  assert.deepEqual(
    got,
    Array.from({ length: got.length }, (_, i) => i + 1),
    'every line from the first, once, in order (those of the time without an agent included)',
  );
});

test('noops volume ls shows the volume in use; rm refuses it while a container mounts it and removes it after the undeploy', {
  timeout: 120_000,
}, async () => {
  const h = await until(
    'the agent to list its volumes',
    async () => {
      const v = await volumesOf();
      return v?.error === null && v;
    },
    30_000,
  );
  const vol = h.volumes.find((v) => v.name === VOLUME);
  assert.ok(vol, `${VOLUME} listed: ${JSON.stringify(h)}`);
  assert.equal(vol.tag, CLUSTER);
  assert.equal(vol.process, 'worker');
  assert.equal(vol.inUse, true);
  const running = await worker();
  assert.deepEqual(vol.containers, [running!.Id.slice(0, 12)]);

  const refused = await cli(server, ['volume', 'rm', HOST, VOLUME]);
  assert.equal(refused.code, 1, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /NOOPS_E_VOLUME_IN_USE/);
  await docker.getVolume(VOLUME).inspect(); // still there

  const u = await cli(server, ['undeploy', '-t', CLUSTER]);
  assert.equal(u.code, 0, u.stdout + u.stderr);
  await until('the container gone', async () => (await worker()) === undefined, 30_000);
  const after = (await volumesOf(HOST))!;
  assert.deepEqual(
    after.volumes.filter((v) => v.name === VOLUME).map((v) => [v.inUse, v.containers]),
    [[false, []]],
    'kept by the undeploy, mounted by nothing',
  );
  const removed = await cli(server, ['volume', 'rm', HOST, VOLUME]);
  assert.equal(removed.code, 0, removed.stdout + removed.stderr);
  assert.equal(removed.stdout, `removed ${VOLUME} (${CLUSTER}) on ${HOST}\n`);
  await assert.rejects(docker.getVolume(VOLUME).inspect(), 'gone from the engine');
  assert.deepEqual((await volumesOf(HOST))!.volumes, []);
  const again = await cli(server, ['volume', 'rm', HOST, VOLUME]);
  assert.match(again.stderr, /NOOPS_E_VOLUME_UNKNOWN/);
});
