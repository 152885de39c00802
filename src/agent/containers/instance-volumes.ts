/**
 * An instance's volumes on the engine: their names on this host, and how a start gets them
 * without a race against `noops volume rm` (or a `docker volume rm` by hand).
 *
 * - **Names.** The spec names an instance's volume `noops-<tag>-<process>-<name>` (spec.ts); on the
 *   engine it is `noops-<host>_<tag>-<process>-<name>`, so two agents of one engine (tests, a
 *   remote engine) never share one. A host name holds no `_`, so the host part is unambiguous.
 * - **Migration.** A volume of the old name (made by an agent from before host names) that carries
 *   this agent's `noops.host` label keeps being used, with its data: nothing is copied or renamed.
 *   Once it is removed (`noops volume rm`), the instance gets the new name. The lookup is made once
 *   per volume in an agent's life (cached), not per start.
 * - **No check-then-use.** The container's create makes the volume when it is missing (the engine
 *   makes it and takes a reference on it in one step, under its own lock per volume name, so a
 *   removal between the two is refused: "volume is in use"), with noops' labels and a nonce of
 *   that create. After the create, a volume that carries this nonce was made now and is given to
 *   the process's user; one without it was there before and is left as it is.
 */
import { createHash } from 'node:crypto';
import type Dockerode from 'dockerode';
import { CONTAINER_LABELS } from '../../api/index.js';
import { engineError, isOwned, OWNED_LABELS, statusOf } from '../../engine/index.js';

/** The label of a volume that a container's create made: that create's nonce. */
export const VOLUME_MADE_LABEL = 'noops.volume-made';

/**
 * 200: the engine keeps a volume as a folder of its name, and a file name is at most 255 bytes;
 * a longer name is cut and a hash of the whole appended, leaving room for the engine's own suffixes.
 */
export const VOLUME_NAME_MAX = 200;

type VolumeOptions = NonNullable<Dockerode.MountSettings['VolumeOptions']>;

/** A volume as a container mounts it: its name on the engine and its path inside. */
export interface InstanceVolume {
  name: string;
  path: string;
}

/** The engine's name on host `host` of the instance volume the spec names `specName` (`noops-<tag>-<process>-<name>`). */
export function hostVolumeName(host: string, specName: string): string {
  const rest = specName.startsWith('noops-') ? specName.slice('noops-'.length) : specName;
  const name = `noops-${host.replace(/[^a-zA-Z0-9.-]/g, '-')}_${rest}`;
  if (name.length <= VOLUME_NAME_MAX) return name;
  return `${name.slice(0, VOLUME_NAME_MAX - 13)}-${createHash('sha256').update(name).digest('hex').slice(0, 12)}`;
}

/** The labels of a volume: the instance's (tag, process, host), not a version's: it outlives releases. */
export function volumeLabels(labels: Record<string, string>): Record<string, string> {
  const { [CONTAINER_LABELS.version]: _version, ...rest } = labels;
  return { ...rest, ...OWNED_LABELS };
}

/** The engine's names of one agent's instance volumes, looked up once each (see the file's comment). */
export class VolumeNames {
  readonly #names = new Map<string, string>();

  constructor(private readonly host: string) {}

  /** The name to mount for the spec's volume `specName`: the host's, or the old name when this host has a volume of it. */
  async resolve(docker: Dockerode, specName: string): Promise<string> {
    const known = this.#names.get(specName);
    if (known !== undefined) return known;
    const fresh = hostVolumeName(this.host, specName);
    let name = fresh;
    if ((await inspectVolume(docker, fresh)) === null) {
      const old = await inspectVolume(docker, specName);
      if (old !== null && isOwned(old.Labels) && old.Labels?.[CONTAINER_LABELS.host] === this.host) name = specName;
    }
    this.#names.set(specName, name);
    return name;
  }

  /** The volume `name` was removed: the spec names that led to it are looked up again. */
  forget(name: string): void {
    for (const [spec, engine] of this.#names) if (engine === name) this.#names.delete(spec);
  }
}

/**
 * The mounts of `volumes`: each made by the create when missing, with `labels` and the create's
 * `nonce` (the engine's defaults for the rest: the local driver, the image's files copied in).
 */
export function volumeMounts(volumes: readonly InstanceVolume[], labels: Record<string, string>, nonce: string): Dockerode.MountSettings[] {
  // @types/dockerode wants every field of VolumeOptions; the engine takes any of them
  const options: Partial<VolumeOptions> = { Labels: { ...volumeLabels(labels), [VOLUME_MADE_LABEL]: nonce } };
  return volumes.map((v) => ({ Type: 'volume' as const, Source: v.name, Target: v.path, VolumeOptions: options as VolumeOptions }));
}

/** The volumes of `volumes` that the create of `nonce` made (the others were there before it). */
export async function madeBy(docker: Dockerode, volumes: readonly InstanceVolume[], nonce: string): Promise<string[]> {
  const made: string[] = [];
  for (const v of volumes) if ((await inspectVolume(docker, v.name))?.Labels?.[VOLUME_MADE_LABEL] === nonce) made.push(v.name);
  return made;
}

/**
 * Gives a volume made now (root's) to the process's user `user` (uid:gid), once, by a root
 * container of `image` (the base image) that changes the owner of its top folder.
 */
export async function giveVolume(docker: Dockerode, image: string, host: string, name: string, user: string): Promise<void> {
  const c = await docker
    .createContainer({
      Image: image,
      Cmd: ['/bin/chown', user, '/volume'],
      User: '0:0',
      Labels: { ...OWNED_LABELS, [CONTAINER_LABELS.host]: host },
      HostConfig: { NetworkMode: 'none', Mounts: [{ Type: 'volume', Source: name, Target: '/volume' }] },
    })
    .catch((e) => Promise.reject(engineError(`giving the volume ${name} to ${user}`, e)));
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

async function inspectVolume(docker: Dockerode, name: string): Promise<Dockerode.VolumeInspectInfo | null> {
  try {
    return await docker.getVolume(name).inspect();
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw engineError(`looking for the volume ${name}`, err);
  }
}
