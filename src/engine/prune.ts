/**
 * Old base images: `noops-base:*` images noops built (labelled `noops.owned=1` and `noops.base`)
 * that are not the current one and that no container uses (running or not) are removed. An image
 * without both labels, another repository's, or one a container still uses is never touched.
 */
import type Dockerode from 'dockerode';
import { BASE_LABEL, BASE_REPO } from './base-image.js';
import { engineError, ownedFilter, statusOf } from './engine.js';

/** What a prune did: the images it removed and those it kept because a container uses them. */
export interface PruneResult {
  removed: string[];
  inUse: string[];
}

/**
 * Removes the base images of older hashes that no container uses. `current` (`noops-base:<hash>`)
 * is kept. `only` narrows to images with these labels too (tests: their own images alone).
 */
export async function pruneBaseImages(
  docker: Dockerode,
  current: string,
  log: (line: string) => void,
  only: Record<string, string> = {},
): Promise<PruneResult> {
  const result: PruneResult = { removed: [], inUse: [] };
  const filter = ownedFilter(only);
  filter.label.push(BASE_LABEL);
  const images = await docker
    .listImages({ filters: { ...filter, reference: [BASE_REPO] } })
    .catch((e) => Promise.reject(engineError('listing the base images', e)));
  for (const image of images) {
    const tags = (image.RepoTags ?? []).filter((t) => t.startsWith(`${BASE_REPO}:`));
    if (tags.length === 0 || tags.includes(current)) continue;
    const users = await docker.listContainers({ all: true, filters: { ancestor: [image.Id] } }).catch(() => null);
    const name = tags.join(', ');
    if (users === null || users.length > 0) {
      result.inUse.push(name);
      continue;
    }
    try {
      // by tag: an image another repository also names (docker tag) keeps that name and its layers
      for (const t of tags) await docker.getImage(t).remove();
      result.removed.push(name);
      log(`removed the old base image ${name} (no container uses it; the current one is ${current})`);
    } catch (err) {
      if (statusOf(err) === 409)
        result.inUse.push(name); // a container was made from it meanwhile
      else if (statusOf(err) !== 404) throw engineError(`removing the old base image ${name}`, err);
    }
  }
  return result;
}
