/**
 * The host's network on the real engine: made when absent (labelled), kept when it matches,
 * replaced when noops made it and nothing is on it, refused when someone else made it or a
 * container is on it. A manifest's image that is not on the host is a clear error.
 */
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS, type HostNetwork } from '../../api/index.js';
import type { NoopsError } from '../../errors/index.js';
import { connectEngine } from '../../engine/index.js';
import { DEFAULT_BRIDGE, ensureNetwork } from './network.js';
import { EngineRunner } from './runner.js';
import { freeTestNetwork } from './test-net.js';

let docker: Dockerode;
const made: string[] = [];

before(async () => {
  docker = await connectEngine();
});

after(async () => {
  for (const name of made)
    await docker
      .getNetwork(name)
      .remove()
      .catch(() => undefined);
});

async function inspect(name: string): Promise<Dockerode.NetworkInspectInfo> {
  return (await docker.getNetwork(name).inspect()) as Dockerode.NetworkInspectInfo;
}

test('no network given: the default bridge', async () => {
  assert.equal(await ensureNetwork(docker, undefined), DEFAULT_BRIDGE);
});

test('a network is made labelled, kept when it matches, replaced when it differs and is empty', async () => {
  const net = await freeTestNetwork(docker, `noops-nt-${process.pid}`);
  made.push(net.name);
  assert.equal(await ensureNetwork(docker, net), net.name);
  const first = await inspect(net.name);
  assert.equal(first.Labels?.[CONTAINER_LABELS.owned], '1');
  assert.deepEqual([first.IPAM?.Config?.[0]?.Subnet, first.IPAM?.Config?.[0]?.Gateway, first.Driver], [net.subnet, net.gateway, 'bridge']);
  await ensureNetwork(docker, net);
  assert.equal((await inspect(net.name)).Id, first.Id, 'kept');
  const moved: HostNetwork = { ...(await freeTestNetwork(docker, net.name)) };
  await ensureNetwork(docker, moved);
  const second = await inspect(net.name);
  assert.notEqual(second.Id, first.Id, 'replaced');
  assert.equal(second.IPAM?.Config?.[0]?.Subnet, moved.subnet);
});

test('a network noops did not make is never touched; one with a container on it is kept', async () => {
  const theirs = await freeTestNetwork(docker, `noops-nt-theirs-${process.pid}`);
  made.push(theirs.name);
  await docker.createNetwork({ Name: theirs.name, IPAM: { Config: [{ Subnet: theirs.subnet, Gateway: theirs.gateway }] } });
  const other = await freeTestNetwork(docker, theirs.name);
  await assert.rejects(
    ensureNetwork(docker, other),
    (err: NoopsError) => err.code === 'NOOPS_E_CONTAINER' && /noops did not make/.test(err.message),
  );
  assert.equal((await inspect(theirs.name)).IPAM?.Config?.[0]?.Subnet, theirs.subnet, 'untouched');

  const busy = await freeTestNetwork(docker, `noops-nt-busy-${process.pid}`);
  made.push(busy.name);
  await ensureNetwork(docker, busy);
  const runner = new EngineRunner({ host: 'nt', log: () => undefined });
  await runner.prepare(undefined); // the base image
  const image = (await docker.listImages({ filters: { reference: ['noops-base'] } }))[0]!.RepoTags![0]!;
  const c = await docker.createContainer({ Image: image, Cmd: ['/bin/sh', '-c', 'sleep 60'], HostConfig: { NetworkMode: busy.name } });
  try {
    await c.start();
    await assert.rejects(ensureNetwork(docker, await freeTestNetwork(docker, busy.name)), /containers are still on it/);
  } finally {
    await c.remove({ force: true });
  }
});

test('macvlan: the network sits on the given parent interface and a container on it gets its address from the subnet', async () => {
  // a parent of our own: a veth pair the test makes (this kernel has no dummy links), removed after
  const parent = `nmv${process.pid % 100_000}`;
  const ip = (...args: string[]): void => {
    execFileSync('ip', args, { stdio: 'pipe' });
  };
  ip('link', 'add', parent, 'type', 'veth', 'peer', 'name', `${parent}p`);
  try {
    ip('link', 'set', parent, 'up');
    const net: HostNetwork = { ...(await freeTestNetwork(docker, `noops-nt-mv-${process.pid}`)), driver: 'macvlan', parent };
    made.push(net.name);
    assert.equal(await ensureNetwork(docker, net), net.name);
    const info = await inspect(net.name);
    assert.deepEqual([info.Driver, info.Options?.parent, info.IPAM?.Config?.[0]?.Subnet], ['macvlan', parent, net.subnet]);
    const runner = new EngineRunner({ host: 'nt', log: () => undefined });
    await runner.prepare(undefined); // the base image
    const image = (await docker.listImages({ filters: { reference: ['noops-base'] } }))[0]!.RepoTags![0]!;
    const c = await docker.createContainer({ Image: image, Cmd: ['/bin/sh', '-c', 'sleep 60'], HostConfig: { NetworkMode: net.name } });
    try {
      await c.start();
      const address = (await c.inspect()).NetworkSettings.Networks[net.name]?.IPAddress ?? '';
      const prefix = net.subnet.split('.').slice(0, 3).join('.');
      assert.ok(address.startsWith(`${prefix}.`) && address !== net.gateway, `${address} in ${net.subnet}`);
    } finally {
      await c.remove({ force: true });
    }
  } finally {
    try {
      ip('link', 'del', parent);
    } catch {
      // gone with its peer already
    }
  }
});

test("a manifest's image that is not on the host is a clear error (never pulled)", async () => {
  const runner = new EngineRunner({ host: 'nt', log: () => undefined });
  await assert.rejects(
    runner.prepare('noops-no-such-image:1'),
    (err: NoopsError) =>
      err.code === 'NOOPS_E_CONTAINER' && /noops-no-such-image:1 .* is not on this host, and images are never pulled/.test(err.message),
  );
});
