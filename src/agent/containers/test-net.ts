/**
 * Tests only: a network of their own in 198.18.128.0/17 (a /24 no other network of the engine
 * holds), labelled as noops', and the cleanup of what a test made (by its labels, never more).
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS, type HostNetwork } from '../../api/index.js';
import { ownedFilter } from '../../engine/index.js';
import { procAlive } from '../../supervisor/index.js';

/** Where test processes claim their /24s: a file per third octet, holding the claiming process' pid. */
const CLAIMS = join(tmpdir(), 'noops-test-networks');

/**
 * Claims `octet` for this process among the test files that run at once: the engine's list is
 * read before a network is made, so two files could pick the same free /24 and one be refused
 * ("Pool overlaps"). A claim left by a process that ended is taken over.
 */
function claim(octet: number): boolean {
  mkdirSync(CLAIMS, { recursive: true });
  const file = join(CLAIMS, String(octet));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(file, 'utf8'));
      } catch {
        continue; // gone meanwhile: try again
      }
      if (holder === process.pid || (Number.isInteger(holder) && procAlive(holder, null))) return false;
      try {
        unlinkSync(file); // left by a process that ended
      } catch {
        // another took it over first
      }
    }
  }
  return false;
}

/**
 * A HostNetwork named `name` on a /24 of 198.18.128.0/17 that the engine does not use yet, claimed
 * for this process (a test file running beside it picks another).
 */
export async function freeTestNetwork(docker: Dockerode, name: string): Promise<HostNetwork> {
  const used = new Set<string>();
  for (const n of await docker.listNetworks()) {
    const info = (await docker
      .getNetwork(n.Id)
      .inspect()
      .catch(() => null)) as Dockerode.NetworkInspectInfo | null;
    for (const c of info?.IPAM?.Config ?? []) if (c.Subnet) used.add(c.Subnet);
  }
  for (let i = 0; i < 500; i++) {
    const octet = 128 + Math.floor(Math.random() * 128);
    const subnet = `198.18.${octet}.0/24`;
    if (!used.has(subnet) && claim(octet)) return { name, subnet, gateway: `198.18.${octet}.1`, driver: 'bridge', parent: null };
  }
  throw new Error('no free /24 in 198.18.128.0/17');
}

/** Removes the containers and volumes of noops labelled with `host`, then the network `name` (if noops made it). */
export async function removeTestObjects(docker: Dockerode, host: string, network?: string): Promise<void> {
  const filters = ownedFilter({ [CONTAINER_LABELS.host]: host });
  for (const c of await docker.listContainers({ all: true, filters }))
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined);
  const { Volumes } = await docker.listVolumes({ filters });
  for (const v of Volumes ?? [])
    await docker
      .getVolume(v.Name)
      .remove({ force: true })
      .catch(() => undefined);
  if (network === undefined) return;
  const n = (await docker.listNetworks({ filters: { name: [network] } })).find((x) => x.Name === network);
  if (n && n.Labels?.[CONTAINER_LABELS.owned] === '1')
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
}
