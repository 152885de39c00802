/**
 * `EngineRunner`: the supervisor's `ContainerRunner` on the host's Docker Engine. It prepares a
 * release (the image is there, the base image built and verified, the network made) before the
 * old release stops, starts a container per process (the spec's command, cwd, env and user; the
 * release and runtimes bind-mounted read-only at their paths; volumes per instance; limits), and
 * finds the running containers a previous agent started (by their labels) so they are adopted.
 *
 * The base image's name and the network are known once (not looked up per start); what went
 * missing since (removed by hand, pruned by another agent of the engine) is noticed when it
 * matters: `prepare` (once per deploy) checks both with one inspect each, and a start whose create
 * says "no such image" or whose start says "network not found" makes it again and tries once more.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import type { HostNetwork, VolumeReport } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import {
  logPaths,
  type ContainerHandle,
  type ContainerRunner,
  type ContainerSpec,
  type RunAs,
  type WatchSpec,
} from '../../supervisor/index.js';
import { connectEngine, engineError, ensureBaseImage, pruneBaseImages, statusOf } from '../../engine/index.js';
import { adoptContainer } from './adopt.js';
import { createOptions, missingOf } from './create-options.js';
import { followContainer, type FollowOptions } from './handle.js';
import { giveVolume, madeBy, VolumeNames, type InstanceVolume } from './instance-volumes.js';
import { ensureNetwork } from './network.js';
import { listVolumes, removeVolume } from './volumes.js';
import { CONCURRENT_STARTS, StartLimit } from './start-limit.js';

type ContainerWatch = WatchSpec & { container: ContainerSpec };

export interface EngineRunnerOptions {
  /** the engine's socket; default /var/run/docker.sock */
  socketPath?: string;
  /** this agent's name: the `noops.host` label of its containers and volumes, part of its volumes' names, and whose containers it adopts */
  host: string;
  log(line: string): void;
  /** containers created and started at once (default CONCURRENT_STARTS: see start-limit.ts) */
  concurrentStarts?: number;
  /** makes the base image and gives its name (default: ensureBaseImage, then the older ones pruned); tests give their own */
  baseImage?: (docker: Dockerode, log: (line: string) => void) => Promise<string>;
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

/** The base image made by noops, the first time this agent needs it; the older ones nothing uses are then removed. */
async function makeBaseImage(docker: Dockerode, log: (line: string) => void): Promise<string> {
  const name = await ensureBaseImage(docker, log);
  void pruneBaseImages(docker, name, log).catch((err: Error) => log(`could not remove old base images: ${err.message}`));
  return name;
}

export class EngineRunner implements ContainerRunner {
  #docker: Promise<Dockerode> | undefined;
  #base: Promise<string> | undefined;
  #network: HostNetwork | undefined;
  #networkReady: { key: string; name: Promise<string> } | undefined;
  readonly #starts: StartLimit;
  readonly #volumeNames: VolumeNames;

  constructor(private readonly opts: EngineRunnerOptions) {
    this.#starts = new StartLimit(opts.concurrentStarts ?? CONCURRENT_STARTS);
    this.#volumeNames = new VolumeNames(opts.host);
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
   * stops: the engine answers, the image is on the host (the base image made again if it went
   * missing), the network exists (made again likewise). Throws NOOPS_E_CONTAINER.
   */
  async prepare(image: string | undefined): Promise<void> {
    const docker = await this.engine();
    if (image !== undefined) await checkImage(docker, image);
    else {
      const known = this.#base;
      const name = await this.#baseImage();
      if (known !== undefined && !(await imageThere(docker, name))) {
        this.#forget('image', known);
        await this.#baseImage();
      }
    }
    const ready = this.#networkReady;
    const network = await this.#ensureNetwork();
    if (ready?.name === this.#networkReady?.name && !(await networkThere(docker, network))) {
      this.#forget('network', this.#networkReady?.name);
      await this.#ensureNetwork();
    }
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
    const user = runAs ? `${runAs.uid}:${runAs.gid}` : `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
    const volumes: InstanceVolume[] = [];
    for (const v of spec.container.volumes) volumes.push({ name: await this.#volumeNames.resolve(docker, v.name), path: v.path });
    for (let again = true; ; again = false) {
      const base = spec.container.image === undefined ? this.#baseImage() : undefined;
      const network = this.#ensureNetwork();
      const nonce = randomBytes(8).toString('hex');
      let container: Dockerode.Container;
      try {
        const image = base === undefined ? spec.container.image! : await base;
        const facts = { image, network: await network, user, host: this.opts.host, volumes, nonce };
        container = await docker.createContainer(createOptions(spec, facts));
      } catch (err) {
        if (again && missingOf(err) === 'image' && base !== undefined) {
          this.#forget('image', base);
          continue;
        }
        throw this.#startError(spec, err);
      }
      try {
        await this.#give(docker, container, volumes, nonce, user);
        await container.start();
        return followContainer(container, await container.inspect(), followOptions(spec, false, user));
      } catch (err) {
        await container.remove({ force: true }).catch(() => undefined);
        if (again && missingOf(err) === 'network') {
          this.#forget('network', network);
          continue;
        }
        throw engineError(`starting the container of ${spec.id}`, err);
      }
    }
  }

  /** Gives the volumes the create of `nonce` made to `user`; on a failure they are removed with the container (made now: empty). */
  async #give(docker: Dockerode, container: Dockerode.Container, volumes: InstanceVolume[], nonce: string, user: string): Promise<void> {
    if (user.startsWith('0:')) return;
    const made = await madeBy(docker, volumes, nonce);
    try {
      for (const name of made) await giveVolume(docker, await this.#baseImage(), this.opts.host, name, user);
    } catch (err) {
      await container.remove({ force: true }).catch(() => undefined);
      for (const name of made)
        await docker
          .getVolume(name)
          .remove()
          .catch(() => undefined);
      throw err;
    }
  }

  #startError(spec: ContainerWatch, err: unknown): NoopsError {
    if (missingOf(err) === 'image' && spec.container.image !== undefined) return notHere(spec.container.image);
    return engineError(`creating the container of ${spec.id}`, err);
  }

  async adopt(spec: ContainerWatch): Promise<ContainerHandle | null> {
    const docker = await this.engine();
    // an agent that starts with containers to adopt: its base image known (old ones pruned) early
    void this.#baseImage().catch(() => undefined);
    return adoptContainer(docker, this.opts.host, spec, (adopted, user) => followOptions(spec, adopted, user), this.opts.log);
  }

  /** The volumes of noops on this host (`noops volume ls`). */
  async volumes(): Promise<VolumeReport[]> {
    return listVolumes(await this.engine(), this.opts.host);
  }

  /** Removes a volume of noops on this host that no container mounts (`noops volume rm`). */
  async removeVolume(name: string): Promise<VolumeReport> {
    const removed = await removeVolume(await this.engine(), this.opts.host, name);
    this.#volumeNames.forget(name);
    return removed;
  }

  /** The base image's name, made once (a failure is tried again next time). */
  #baseImage(): Promise<string> {
    this.#base ??= this.engine().then((docker) =>
      (this.opts.baseImage ?? makeBaseImage)(docker, this.opts.log).catch((err) => {
        this.#base = undefined;
        throw engineError('making the base image', err);
      }),
    );
    return this.#base;
  }

  /** The base image or network `known` went missing: made again by the next who needs it (once, however many noticed). */
  #forget(what: 'image' | 'network', known: Promise<string> | undefined): void {
    if (what === 'image' && this.#base === known) {
      this.#base = undefined;
      this.opts.log('the base image went missing: making it again');
    }
    if (what === 'network' && this.#networkReady?.name === known) {
      this.#networkReady = undefined;
      this.opts.log('the network went missing: making it again');
    }
  }

  #ensureNetwork(): Promise<string> {
    const key = JSON.stringify(this.#network ?? null);
    if (this.#networkReady?.key !== key) {
      const name = this.engine().then((docker) => ensureNetwork(docker, this.#network));
      this.#networkReady = { key, name };
      name.catch(() => {
        if (this.#networkReady?.name === name) this.#networkReady = undefined;
      });
    }
    return this.#networkReady.name;
  }
}

/** A manifest's image (`image:`) must be on the host: NOOPS_E_CONTAINER when it is not. */
async function checkImage(docker: Dockerode, image: string): Promise<void> {
  if (!(await imageThere(docker, image))) throw notHere(image);
}

function notHere(image: string): NoopsError {
  return new NoopsError('NOOPS_E_CONTAINER', `the image ${image} (noops.yaml's image:) is not on this host, and images are never pulled`, {
    hint: `load it on the host first (docker load, docker import or docker build), or remove image: to use noops' base image`,
  });
}

async function imageThere(docker: Dockerode, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw engineError(`looking for the image ${image}`, err);
  }
}

async function networkThere(docker: Dockerode, name: string): Promise<boolean> {
  try {
    await docker.getNetwork(name).inspect();
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw engineError(`looking for the network ${name}`, err);
  }
}
