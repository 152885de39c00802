/** The host daemon: join, heartbeat, reconcile. */
export { Agent } from './agent.js';
export type { AgentOptions } from './agent.js';
export { installRelease, switchCurrent, readCurrent, pruneReleases, ensureShared, extractPackage } from './install.js';
