/**
 * `EngineRunner`: the supervisor's `ContainerRunner` on the host's Docker Engine. It prepares a
 * release (the image is there, the base image built and verified, the network made) before the
 * old release stops, starts a container per process (the spec's command, cwd, env and user; the
 * release and runtimes bind-mounted read-only at their paths; volumes per instance; limits), and
 * finds the running containers a previous agent started (by their labels) so they are adopted.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS, type HostNetwork, type VolumeReport } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import {
  logPaths,
  shellScript,
  type ContainerHandle,
  type ContainerRunner,
  type ContainerSpec,
  type RunAs,
  type WatchSpec,
} from '../../supervisor/index.js';
import { connectEngine, engineError, ensureBaseImage, OWNED_LABELS, ownedFilter, pruneBaseImages, statusOf } from '../../engine/index.js';
import { catchUpLogs, followContainer, type FollowOptions } from './handle.js';
import { ensureNetwork } from './network.js';
import { listVolumes, removeVolume } from './volumes.js';
import { CONCURRENT_STARTS, StartLimit } from './start-limit.js';

type ContainerWatch = WatchSpec & { container: ContainerSpec };

export interface EngineRunnerOptions {
  /** the engine's socket; default /var/run/docker.sock */
  socketPath?: string;
  /** this agent's name: the `noops.host` label of its containers, and whose containers it adopts */
  host: string;
  log(line: string): void;
  /** containers created and started at once (default CONCURRENT_STARTS: see start-limit.ts) */
  concurrentStarts?: number;
}

/** The file of a process's log mark: its instance's state folder (else beside its logs). */
export function markFileOf(spec: ContainerWatch): string {
  return join(spec.container.stateDir ?? spec.logDir, `${spec.logName}.logs-mark.json`);
}

/** How a handle follows the container of `spec` (`user`: the container's, for its stop command). */
function followOptions(spec: ContainerWatch, adopted: boolean, user: string): FollowOptions {
  return {
    logs: logPaths(spec),
    markFile: markFileOf(spec),
    adopted,
    memory: spec.container.resources?.memory,
    ...(spec.stopCommand !== undefined && { stopCommand: { command: spec.stopCommand, cwd: spec.cwd, env: spec.env, user } }),
  };
}

export class EngineRunner implements ContainerRunner {
  #docker: Promise<Dockerode> | undefined;
  #base: Promise<string> | undefined;
  #network: HostNetwork | undefined;
  #networkReady: { key: string; name: Promise<string> } | undefined;
  readonly #starts: StartLimit;

  constructor(private readonly opts: EngineRunnerOptions) {
    this.#starts = new StartLimit(opts.concurrentStarts ?? CONCURRENT_STARTS);
  }

  /** This host's network from the desired state (undefined: the engine's default bridge). */
  setNetwork(net: HostNetwork | undefined): void {
    this.#network = net;
  }

  /** The engine, connected once (a failed connection is tried again next time). */
  engine(): Promise<Dockerode> {
    this.#docker ??= connectEngine(this.opts.socketPath).catch((err) => {
      this.#docker = undefined;
      throw err;
    });
    return this.#docker;
  }

  /**
   * Everything a release of `image` (undefined: the base image) needs before its old release
   * stops: the engine answers, the image is on the host, the network exists. Throws NOOPS_E_CONTAINER.
   */
  async prepare(image: string | undefined): Promise<void> {
    await this.#image(image);
    await this.#ensureNetwork();
  }

  /**
   * Creates and starts the container of `spec`; at most `concurrentStarts` at once (the others
   * wait their turn: the supervisor launches every process of a deploy at the same moment).
   */
  start(spec: ContainerWatch, runAs: RunAs | undefined): Promise<ContainerHandle> {
    return this.#starts.run(() => this.#start(spec, runAs));
  }

  async #start(spec: ContainerWatch, runAs: RunAs | undefined): Promise<ContainerHandle> {
    const docker = await this.engine();
    const image = await this.#image(spec.container.image);
    const network = await this.#ensureNetwork();
    const labels = { ...spec.container.labels, [CONTAINER_LABELS.host]: this.opts.host };
    const user = runAs ? `${runAs.uid}:${runAs.gid}` : `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
    for (const v of spec.container.volumes) {
      if (await ensureVolume(docker, v.name, labels)) await this.#giveVolume(docker, v.name, user);
    }
    const r = spec.container.resources ?? {};
    const container = await docker
      .createContainer({
        name: `noops-${spec.id.replace(/[^a-zA-Z0-9_.-]/g, '_').slice(0, 100)}-${randomBytes(4).toString('hex')}`,
        Image: image,
        Cmd: ['/bin/sh', '-c', shellScript(spec.command, spec.env.PATH, spec.cwd)],
        WorkingDir: spec.cwd,
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        User: user,
        Labels: { ...spec.container.labels, [CONTAINER_LABELS.host]: this.opts.host, ...OWNED_LABELS },
        HostConfig: {
          NetworkMode: network,
          Mounts: [
            ...spec.container.mounts.map((m) => ({ Type: 'bind' as const, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
            ...spec.container.volumes.map((v) => ({ Type: 'volume' as const, Source: v.name, Target: v.path })),
          ],
          ...(r.cpu !== undefined && { NanoCpus: Math.round(r.cpu * 1e9) }),
          // no swap beyond the limit: over it is an oom, not a slow process
          ...(r.memory !== undefined && { Memory: r.memory, MemorySwap: r.memory }),
          ...(r.pids !== undefined && { PidsLimit: r.pids }),
        },
      })
      .catch((e) => Promise.reject(engineError(`creating the container of ${spec.id}`, e)));
    try {
      await container.start();
      return followContainer(container, await container.inspect(), followOptions(spec, false, user));
    } catch (err) {
      await container.remove({ force: true }).catch(() => undefined);
      throw engineError(`starting the container of ${spec.id}`, err);
    }
  }

  async adopt(spec: ContainerWatch): Promise<ContainerHandle | null> {
    const docker = await this.engine();
    // an agent that starts with containers to adopt: its base image known (old ones pruned) early
    void this.#image(undefined).catch(() => undefined);
    const { tag, process: name, version } = CONTAINER_LABELS;
    const labels = spec.container.labels;
    const mine = await docker.listContainers({
      all: true,
      filters: ownedFilter({ [tag]: labels[tag]!, [name]: labels[name]!, [CONTAINER_LABELS.host]: this.opts.host }),
    });
    let handle: ContainerHandle | null = null;
    for (const c of mine.sort((a, b) => b.Created - a.Created)) {
      const container = docker.getContainer(c.Id);
      if (handle === null && c.State === 'running' && c.Labels[version] === labels[version]) {
        const info = await container.inspect();
        handle = followContainer(container, info, followOptions(spec, true, info.Config.User));
      } else if (c.State !== 'running') {
        // a dead one of ours, left by an agent that was away: what it wrote after its mark, then gone
        await catchUpLogs(container, c.Id, followOptions(spec, true, '')).catch(() => undefined);
        await container.remove({ force: true }).catch(() => undefined);
      }
    }
    return handle;
  }

  /** The volumes of noops on this host (`noops volume ls`). */
  async volumes(): Promise<VolumeReport[]> {
    return listVolumes(await this.engine(), this.opts.host);
  }

  /** Removes a volume of noops on this host that no container mounts (`noops volume rm`). */
  async removeVolume(name: string): Promise<VolumeReport> {
    return removeVolume(await this.engine(), this.opts.host, name);
  }

  /** A new volume belongs to root: it is given to the process's user once, by a root container of the base image. */
  async #giveVolume(docker: Dockerode, name: string, user: string): Promise<void> {
    if (user.startsWith('0:')) return;
    const c = await docker.createContainer({
      Image: await this.#image(undefined),
      Cmd: ['/bin/chown', user, '/volume'],
      User: '0:0',
      Labels: { ...OWNED_LABELS, [CONTAINER_LABELS.host]: this.opts.host },
      HostConfig: { NetworkMode: 'none', Mounts: [{ Type: 'volume', Source: name, Target: '/volume' }] },
    });
    try {
      await c.start();
      const { StatusCode } = (await c.wait()) as { StatusCode: number };
      if (StatusCode !== 0) throw new Error(`chown exited with code ${StatusCode}`);
    } catch (err) {
      throw engineError(`giving the volume ${name} to ${user}`, err);
    } finally {
      await c.remove({ force: true }).catch(() => undefined);
    }
  }

  /** The image to run: the manifest's (it must be on the host) or the base image. */
  async #image(image: string | undefined): Promise<string> {
    const docker = await this.engine();
    if (image === undefined) {
      this.#base ??= ensureBaseImage(docker, this.opts.log).then(
        (name) => {
          // the first time this agent needs it (or built it): the older ones nothing uses go
          void pruneBaseImages(docker, name, this.opts.log).catch((err: Error) =>
            this.opts.log(`could not remove old base images: ${err.message}`),
          );
          return name;
        },
        (err) => {
          this.#base = undefined;
          throw engineError('making the base image', err);
        },
      );
      return this.#base;
    }
    try {
      await docker.getImage(image).inspect();
      return image;
    } catch (err) {
      if (statusOf(err) !== 404) throw engineError(`looking for the image ${image}`, err);
      throw new NoopsError(
        'NOOPS_E_CONTAINER',
        `the image ${image} (noops.yaml's image:) is not on this host, and images are never pulled`,
        {
          hint: `load it on the host first (docker load, docker import or docker build), or remove image: to use noops' base image`,
        },
      );
    }
  }

  async #ensureNetwork(): Promise<string> {
    const docker = await this.engine();
    const key = JSON.stringify(this.#network ?? null);
    if (this.#networkReady?.key !== key) {
      const name = ensureNetwork(docker, this.#network);
      this.#networkReady = { key, name };
      name.catch(() => {
        if (this.#networkReady?.name === name) this.#networkReady = undefined;
      });
    }
    return this.#networkReady.name;
  }
}

/** Makes the volume when missing; true when it was made now. */
async function ensureVolume(docker: Dockerode, name: string, labels: Record<string, string>): Promise<boolean> {
  try {
    await docker.getVolume(name).inspect();
    return false;
  } catch (err) {
    if (statusOf(err) !== 404) throw engineError(`looking for the volume ${name}`, err);
    await docker
      .createVolume({ Name: name, Labels: { ...volumeLabels(labels), ...OWNED_LABELS } })
      .catch((e) => Promise.reject(engineError(`creating the volume ${name}`, e)));
    return true;
  }
}

/** A volume outlives releases: it carries the instance's labels, not a version's. */
function volumeLabels(labels: Record<string, string>): Record<string, string> {
  const { [CONTAINER_LABELS.version]: _version, ...rest } = labels;
  return rest;
}
