/**
 * The engine volumes noops made on this host (labelled `noops.owned=1` and this agent's
 * `noops.host`): listed with whether a container mounts them, and removed on request only when
 * noops made them and no container (running or stopped) mounts them. A volume without noops'
 * labels is never listed nor removed.
 */
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS, type VolumeReport } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { engineError, isOwned, ownedFilter, statusOf } from '../../engine/index.js';

/** The volumes of noops on this host (`host`: the agent's name), sorted by name. */
export async function listVolumes(docker: Dockerode, host: string): Promise<VolumeReport[]> {
  const { Volumes } = await docker
    .listVolumes({ filters: ownedFilter({ [CONTAINER_LABELS.host]: host }) })
    .catch((e) => Promise.reject(engineError('listing the volumes', e)));
  const out: VolumeReport[] = [];
  for (const v of Volumes ?? []) {
    const containers = await usersOf(docker, v.Name);
    const created = (v as { CreatedAt?: string }).CreatedAt;
    out.push({
      name: v.Name,
      tag: v.Labels?.[CONTAINER_LABELS.tag] ?? '',
      process: v.Labels?.[CONTAINER_LABELS.process] ?? '',
      inUse: containers.length > 0,
      containers,
      createdAt: created ? new Date(created).toISOString() : null,
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Removes the volume `name` when noops made it on this host and no container mounts it.
 * NOOPS_E_VOLUME_UNKNOWN: no such volume of noops here; NOOPS_E_VOLUME_IN_USE: a container mounts it.
 */
export async function removeVolume(docker: Dockerode, host: string, name: string): Promise<VolumeReport> {
  const found = (await listVolumes(docker, host)).find((v) => v.name === name);
  if (found === undefined) {
    const info = await docker
      .getVolume(name)
      .inspect()
      .catch((e) => (statusOf(e) === 404 ? null : Promise.reject(engineError(`looking for the volume ${name}`, e))));
    const why = info === null ? 'there is none of that name' : isOwned(info.Labels) ? "it is another agent's" : 'noops did not make it';
    throw new NoopsError('NOOPS_E_VOLUME_UNKNOWN', `no volume of noops named ${name} on host ${host}: ${why}`);
  }
  if (found.inUse) throw inUse(host, name, found.containers);
  try {
    await docker.getVolume(name).remove();
  } catch (err) {
    // a container made from it meanwhile: the engine refuses, and says so
    if (statusOf(err) === 409) throw inUse(host, name, await usersOf(docker, name));
    throw engineError(`removing the volume ${name}`, err);
  }
  return found;
}

function inUse(host: string, name: string, containers: string[]): NoopsError {
  return new NoopsError(
    'NOOPS_E_VOLUME_IN_USE',
    `the volume ${name} on host ${host} is mounted by ${containers.length} container(s) (${containers.join(', ') || 'one being made'}); nothing removed`,
  );
}

/** The containers (any state) that mount the volume, as 12-character ids. */
async function usersOf(docker: Dockerode, name: string): Promise<string[]> {
  const list = await docker
    .listContainers({ all: true, filters: { volume: [name] } })
    .catch((e) => Promise.reject(engineError(`listing the containers of the volume ${name}`, e)));
  return list.map((c) => c.Id.slice(0, 12));
}
