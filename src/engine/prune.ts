/**
 * Old images of noops: `noops-base:*` (the containers' base image) and `noops-build:*` (the build
 * sandbox's image) that noops built (labelled `noops.owned=1` and the kind's own label,
 * `noops.base` or `noops.build-image`), that are not the current one and that no container uses
 * (running or not), are removed. An image without both labels, another repository's, or one a
 * container still uses is never touched, nor one made in the last {@link PRUNE_GRACE_MS}.
 */
import type Dockerode from 'dockerode';
import { BASE_LABEL, BASE_REPO } from './base-image.js';
import { BUILD_IMAGE_LABEL, BUILD_IMAGE_REPO } from './build-image.js';
import { engineError, ownedFilter, statusOf } from './engine.js';

/**
 * 10 min: an image made this recently is kept even when nothing uses it yet: another server or
 * agent of this engine (one whose host files hash differently) may have just made it and be about
 * to start a container from it. A toolchain's or a host's old image is days old.
 */
export const PRUNE_GRACE_MS = 10 * 60_000;

/** Which images a prune may remove. */
export interface PruneOptions {
  /** only images that carry these labels too (tests: their own images alone) */
  only?: Record<string, string>;
  /** images made less than this long ago are kept; default {@link PRUNE_GRACE_MS} */
  graceMs?: number;
}

/** What a prune did: the images it removed and those it kept because a container uses them. */
export interface PruneResult {
  removed: string[];
  inUse: string[];
}

/** One kind of noops' images: its repository, the label only noops' own carry, and its words in the log. */
interface ImageKind {
  repo: string;
  label: string;
  what: string;
}

const BASE: ImageKind = { repo: BASE_REPO, label: BASE_LABEL, what: 'base image' };
const BUILD: ImageKind = { repo: BUILD_IMAGE_REPO, label: BUILD_IMAGE_LABEL, what: 'build image' };

/**
 * Removes the base images of older hashes that no container uses. `current` (`noops-base:<hash>`)
 * is kept.
 */
export function pruneBaseImages(
  docker: Dockerode,
  current: string,
  log: (line: string) => void,
  opts: PruneOptions = {},
): Promise<PruneResult> {
  return pruneImages(docker, BASE, current, log, opts);
}

/**
 * Removes the build images of older toolchains that no container uses (a build step running in
 * one, another server's, keeps it). `current` (`noops-build:<hash>`) is kept.
 */
export function pruneBuildImages(
  docker: Dockerode,
  current: string,
  log: (line: string) => void,
  opts: PruneOptions = {},
): Promise<PruneResult> {
  return pruneImages(docker, BUILD, current, log, opts);
}

async function pruneImages(
  docker: Dockerode,
  kind: ImageKind,
  current: string,
  log: (line: string) => void,
  opts: PruneOptions,
): Promise<PruneResult> {
  const result: PruneResult = { removed: [], inUse: [] };
  const filter = ownedFilter(opts.only ?? {});
  const madeBefore = Date.now() - (opts.graceMs ?? PRUNE_GRACE_MS);
  filter.label.push(kind.label);
  const images = await docker
    .listImages({ filters: { ...filter, reference: [kind.repo] } })
    .catch((e) => Promise.reject(engineError(`listing the ${kind.what}s`, e)));
  for (const image of images) {
    const tags = (image.RepoTags ?? []).filter((t) => t.startsWith(`${kind.repo}:`));
    if (tags.length === 0 || tags.includes(current) || image.Created * 1000 > madeBefore) continue;
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
      log(`removed the old ${kind.what} ${name} (no container uses it; the current one is ${current})`);
    } catch (err) {
      if (statusOf(err) === 409)
        result.inUse.push(name); // a container was made from it meanwhile
      else if (statusOf(err) !== 404) throw engineError(`removing the old ${kind.what} ${name}`, err);
    }
  }
  return result;
}
