/**
 * agent/containers/: the container driver on the host's Docker Engine (issue 17,
 * docs/containers.md). dockerode is loaded on first use.
 */
export { EngineRunner, type EngineRunnerOptions } from './runner.js';
export { hostVolumeName } from './instance-volumes.js';
export { containerSpec, driverOf, resourcesOf, volumeName, type ContainerPaths } from './spec.js';
export { DEFAULT_DOCKER_SOCKET, OWNED_LABELS, connectEngine, isOwned, ownedFilter } from '../../engine/index.js';
// for tests (the e2e of containers): a network of their own in 198.18.128.0/17, and its cleanup
export { freeTestNetwork, removeTestObjects } from './test-net.js';
export { DEFAULT_BRIDGE, ensureNetwork } from './network.js';
export { BASE_LABEL, BASE_REPO, ensureBaseImage } from '../../engine/index.js';
