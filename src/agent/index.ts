/** The host daemon: join, heartbeat, reconcile. */
export { Agent } from './agent.js';
export type { AgentObserver, AgentOptions } from './agent.js';
export { diskReleases, type HostInstallOptions, type ProcessSupervisor, type ReleaseStore } from './host.js';
export { installRelease, switchCurrent, readCurrent, pruneReleases, ensureShared, extractPackage } from './install.js';
