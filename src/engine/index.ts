/**
 * engine/: the host's Docker Engine as noops uses it (issue 17, docs/containers.md): the
 * connection (dockerode, loaded on first use), the ownership labels, and the base image built from
 * the host's own files. Shared by the agent's container driver and the build's container sandbox.
 */
export { DEFAULT_DOCKER_SOCKET, OWNED_LABELS, connectEngine, engineError, isOwned, ownedFilter, statusOf } from './engine.js';
export { BASE_LABEL, BASE_REPO, baseImageEntries, ensureBaseImage, entriesHash, sharedLibraries } from './base-image.js';
export { pruneBaseImages, type PruneResult } from './prune.js';
