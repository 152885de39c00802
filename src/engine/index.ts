/**
 * engine/: the host's Docker Engine as noops uses it (issue 17, docs/containers.md): the
 * connection (dockerode, loaded on first use), the ownership labels, and the base image built from
 * the host's own files, and the build image of the host's toolchain. Shared by the agent's container driver and the build's container sandbox.
 */
export { DEFAULT_DOCKER_SOCKET, OWNED_LABELS, connectEngine, engineError, isOwned, ownedFilter, statusOf } from './engine.js';
export { BASE_LABEL, BASE_REPO, baseImageEntries, ensureBaseImage, entriesHash, sharedLibraries } from './base-image.js';
export {
  BUILD_IMAGE_LABEL,
  BUILD_IMAGE_REPO,
  TOOLCHAIN_DIRS,
  buildImagePlan,
  ensureBuildImage,
  type BuildImage,
  type BuildImageSource,
} from './build-image.js';
export { PRUNE_GRACE_MS, pruneBaseImages, pruneBuildImages, type PruneOptions, type PruneResult } from './prune.js';
