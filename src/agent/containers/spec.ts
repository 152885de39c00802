/**
 * Pure: what a process of a `driver: container` instance needs beyond its WatchSpec: the image,
 * the host folders mounted at the same paths (the release and the runtimes it names read-only,
 * the agent's own node read-only for `$NOOPS_NODE`, the job's shared data folder read-write),
 * its volumes (`noops-<tag with dots as _>-<process>-<name>`: the runner adds the host to the
 * engine's name, instance-volumes.ts), its limits and its labels.
 */
import { dirname, join } from 'node:path';
import { CONTAINER_LABELS, type DesiredInstance } from '../../api/index.js';
import type { ManifestResources, ProcessSpec } from '../../release/index.js';
import type { ContainerSpec } from '../../supervisor/index.js';

/** How an instance's processes run: the desired state's driver, else noops.yaml's, else `process`. */
export function driverOf(d: Pick<DesiredInstance, 'driver' | 'manifest'>): 'process' | 'container' {
  return d.driver ?? d.manifest.driver ?? 'process';
}

/**
 * The spec's name of an instance's volume. Each replica has its own: `web@2`'s is named with
 * `web.2` (the engine takes no `@` in a name; a process name never holds `.`). The engine's name
 * adds the host (`hostVolumeName`); agents from before that used this name as it is, and such a
 * volume is still used where it exists (instance-volumes.ts).
 */
export function volumeName(tag: string, process: string, name: string): string {
  return `noops-${tag.replace(/\./g, '_')}-${process.replace('@', '.')}-${name}`;
}

/** The limits of one process: the manifest's, each key overridden by the process's own. */
export function resourcesOf(top: ManifestResources | undefined, own: ManifestResources | undefined): ManifestResources | undefined {
  if (top === undefined && own === undefined) return undefined;
  return { ...top, ...own };
}

export interface ContainerPaths {
  /** the release folder */
  release: string;
  /** the job's shared data folder (NOOPS_DATA_DIR) */
  data: string;
  /** the runtimes folder (ROOT/runtimes) */
  runtimes: string;
  /** the agent's node (NOOPS_NODE), mounted read-only at its path */
  node?: string;
  /** the instance's state folder (log marks); default: `state` beside the data folder (ROOT/jobs/TAG/shared/state) */
  state?: string;
}

/** The container part of a process's WatchSpec. */
export function containerSpec(d: DesiredInstance, spec: ProcessSpec, paths: ContainerPaths): ContainerSpec {
  const runtimes = Object.entries(d.manifest.runtimes ?? {}).map(([name, version]) => join(paths.runtimes, name, version));
  const ro = (source: string) => ({ source, target: source, readOnly: true });
  const resources = resourcesOf(d.manifest.resources, spec.resources);
  return {
    ...(d.manifest.image !== undefined && { image: d.manifest.image }),
    mounts: [
      ro(paths.release),
      ...runtimes.map(ro),
      ...(paths.node ? [ro(paths.node)] : []),
      { source: paths.data, target: paths.data, readOnly: false },
    ],
    volumes: (d.manifest.volumes ?? []).map((v) => ({ name: volumeName(d.tag, spec.name, v.name), path: v.path })),
    ...(resources !== undefined && { resources }),
    stateDir: paths.state ?? join(dirname(paths.data), 'state'),
    labels: {
      [CONTAINER_LABELS.owned]: '1',
      [CONTAINER_LABELS.tag]: d.tag,
      [CONTAINER_LABELS.process]: spec.name,
      [CONTAINER_LABELS.version]: d.version,
    },
  };
}
