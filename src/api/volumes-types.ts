/**
 * Wire shapes of the containers' volumes (issue 17, docs/containers.md "Volumes"): what an agent
 * reports of the engine volumes noops made on its host, and `noops volume ls|rm`.
 */

/** One engine volume noops made on a host (labelled `noops.owned=1`), as its agent reports it. */
export interface VolumeReport {
  /** the engine's name, `noops-<tag with dots as _>-<process>-<name>` */
  name: string;
  /** the instance it was made for (its `noops.tag` label) */
  tag: string;
  /** the process it was made for (its `noops.process` label) */
  process: string;
  /** a container (running or stopped) mounts it */
  inUse: boolean;
  /** the ids (12 characters) of the containers that mount it */
  containers: string[];
  /** when the engine made it (ISO time), when it says */
  createdAt: string | null;
}

/** One host's volumes in `GET /volumes`, or why its agent did not answer. */
export interface HostVolumesView {
  host: string;
  volumes: VolumeReport[];
  /** the agent did not answer in time, or its engine failed; null when it answered */
  error: { code: string; message: string; hint: string } | null;
}

/** GET /volumes[?host=H]: the volumes of noops per host, those under the caller's scopes. */
export interface VolumesView {
  hosts: HostVolumesView[];
}

/** DELETE /volumes/:host/:name: the volume removed. */
export interface VolumeRemoved {
  host: string;
  name: string;
  tag: string;
}
