/**
 * The API client's calls for the containers' volumes (docs/containers.md "Volumes"): functions
 * taking an ApiClient, so client.ts does not grow.
 */
import type { ApiClient } from './client.js';
import type { VolumeRemoved, VolumesView } from './volumes-types.js';

/** GET /volumes[?host=H]: the volumes of noops per host (those under the caller's scopes). */
export function listVolumes(api: ApiClient, host?: string): Promise<VolumesView> {
  return api.request('GET', host === undefined ? '/volumes' : `/volumes?host=${encodeURIComponent(host)}`);
}

/** DELETE /volumes/:host/:name: removes a volume of noops that no container mounts. */
export function removeVolume(api: ApiClient, host: string, name: string): Promise<VolumeRemoved> {
  return api.request('DELETE', `/volumes/${encodeURIComponent(host)}/${encodeURIComponent(name)}`);
}
