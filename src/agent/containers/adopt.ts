/**
 * Adoption: the running container a previous agent started for a process, found by its labels
 * (tag, process, this agent's host), taken over without a restart when its version is the spec's.
 * Every other container of that process is a leftover: one container runs per process, so a dead
 * one (it ended while no agent ran) has what it wrote after its mark appended to the log files
 * and is removed, and a running one (an older version whose stop an agent did not finish, or a
 * start that ended after its agent let go) is stopped too, in the background, instead of running
 * unwatched for ever.
 */
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS } from '../../api/index.js';
import type { ContainerHandle, ContainerSpec, WatchSpec } from '../../supervisor/index.js';
import { ownedFilter } from '../../engine/index.js';
import { catchUpLogs, followContainer, type FollowOptions } from './handle.js';

type ContainerWatch = WatchSpec & { container: ContainerSpec };

/** How a handle follows the container of the spec (`user`: the container's). */
export type FollowOf = (adopted: boolean, user: string) => FollowOptions;

/** The handle of the process's running container of the spec's version (the newest), or null; the others are removed. */
export async function adoptContainer(
  docker: Dockerode,
  host: string,
  spec: ContainerWatch,
  follow: FollowOf,
  log: (line: string) => void,
): Promise<ContainerHandle | null> {
  const { tag, process: name, version } = CONTAINER_LABELS;
  const labels = spec.container.labels;
  const mine = await docker.listContainers({
    all: true,
    filters: ownedFilter({ [tag]: labels[tag]!, [name]: labels[name]!, [CONTAINER_LABELS.host]: host }),
  });
  let handle: ContainerHandle | null = null;
  for (const c of mine.sort((a, b) => b.Created - a.Created)) {
    const container = docker.getContainer(c.Id);
    if (handle === null && c.State === 'running' && c.Labels[version] === labels[version]) {
      const info = await container.inspect();
      handle = followContainer(container, info, follow(true, info.Config.User));
    } else if (c.State === 'running') {
      log(`stopping container ${c.Id.slice(0, 12)} of ${spec.id} (version ${c.Labels[version]}): another runs for it`);
      void removeLeftover(container, c.Id, follow, Math.ceil(spec.stopTimeoutMs / 1000));
    } else {
      await removeLeftover(container, c.Id, follow, 0);
    }
  }
  return handle;
}

/** Stops a leftover (the engine's stop: its stop signal, SIGKILL after `seconds`), appends what it wrote after its mark, removes it. */
async function removeLeftover(container: Dockerode.Container, id: string, follow: FollowOf, seconds: number): Promise<void> {
  if (seconds > 0) await container.stop({ t: seconds }).catch(() => undefined);
  await catchUpLogs(container, id, follow(true, '')).catch(() => undefined);
  await container.remove({ force: true }).catch(() => undefined);
}
