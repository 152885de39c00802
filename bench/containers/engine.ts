/**
 * The benchmark's own objects in the host's Docker Engine: a free block of 198.18.128.0/17 for
 * its address pool, and the cleanup of what its host made (by noops' labels and its host name,
 * never more).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS } from '../../src/api/index.js';
import { ownedFilter, removeTestObjects } from '../../src/agent/containers/index.js';
import { type Cidr, formatCidr, NETWORK_NAME, overlaps, parseCidr, subnetAt } from '../../src/network/index.js';

/** Where the benchmark's pool is cut from: reserved for benchmarks (RFC 2544), as the tests use. */
export const BENCH_SPACE = '198.18.128.0/17';

/** The subnets the engine's networks hold now. */
export async function engineSubnets(docker: Dockerode): Promise<string[]> {
  const out: string[] = [];
  for (const n of await docker.listNetworks()) {
    const info = (await docker
      .getNetwork(n.Id)
      .inspect()
      .catch(() => null)) as Dockerode.NetworkInspectInfo | null;
    for (const c of info?.IPAM?.Config ?? []) if (c.Subnet?.includes('.')) out.push(c.Subnet);
  }
  return out;
}

/**
 * The first block of `prefix` in `space` that overlaps none of `used`, or undefined.
 *
 * @example freeBlock('198.18.128.0/17', 23, ['198.18.128.0/24']) // '198.18.130.0/23'
 */
export function freeBlock(space: string, prefix: number, used: readonly string[]): string | undefined {
  const whole = parseCidr(space);
  const taken = used.flatMap((u) => {
    try {
      return [parseCidr(u)];
    } catch {
      return [];
    }
  });
  const count = 2 ** (prefix - whole.prefix);
  for (let i = 0; i < count; i++) {
    const block: Cidr = subnetAt(whole, prefix, i);
    if (!taken.some((t) => overlaps(t, block))) return formatCidr(block);
  }
  return undefined;
}

/** Throws when the engine already has a network of the name every noops host uses: another run owns it. */
export async function assertNetworkNameFree(docker: Dockerode): Promise<void> {
  const found = (await docker.listNetworks({ filters: { name: [NETWORK_NAME] } })).find((n) => n.Name === NETWORK_NAME);
  if (found)
    throw new Error(
      `the engine has a network "${NETWORK_NAME}" already (${found.Id.slice(0, 12)}): another noops host on this engine uses it; run the benchmark when it is gone`,
    );
}

/** How many running containers of noops carry `host` (and `tag`, when given). */
export async function runningContainers(docker: Dockerode, host: string, tag?: string): Promise<number> {
  const labels: Record<string, string> = { [CONTAINER_LABELS.host]: host };
  if (tag !== undefined) labels[CONTAINER_LABELS.tag] = tag;
  return (await docker.listContainers({ filters: ownedFilter(labels) })).length;
}

/**
 * Removes the containers and volumes noops made for `host`, then the network `noops` when noops
 * made it and its subnet is the benchmark's own (`subnet`): another run's network is left alone.
 */
export async function removeBenchObjects(docker: Dockerode, host: string, subnet: string | undefined): Promise<void> {
  await removeTestObjects(docker, host);
  if (subnet === undefined) return;
  const n = (await docker.listNetworks({ filters: { name: [NETWORK_NAME] } })).find((x) => x.Name === NETWORK_NAME);
  if (n?.Labels?.[CONTAINER_LABELS.owned] !== '1') return;
  const info = (await docker.getNetwork(n.Id).inspect()) as Dockerode.NetworkInspectInfo;
  if (info.IPAM?.Config?.[0]?.Subnet !== subnet) return;
  await docker.getNetwork(n.Id).remove();
}

/**
 * The lock folder the containers e2e takes turns through (test/e2e/containers.test.ts): both make
 * the one network `noops` of their host, so a run waits for the other's end. Holds this pid; a
 * dead holder's lock is taken over. Answers the release.
 */
export async function takeEngineLock(timeoutMs = 900_000): Promise<() => void> {
  const lock = join(tmpdir(), 'noops-e2e-containers.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return () => rmSync(lock, { recursive: true, force: true });
    } catch {
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {}
      if (Number.isInteger(holder) && !alive(holder)) rmSync(lock, { recursive: true, force: true });
    }
    if (Date.now() > deadline) throw new Error(`the containers e2e still holds ${lock} after ${timeoutMs} ms`);
    await sleep(1000);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
