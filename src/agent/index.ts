/**
 * The host daemon: join, heartbeat, reconcile, supervise. The installer (install.ts, with tar)
 * is not re-exported here: it is loaded on the first install, so an agent that never installs
 * never loads it.
 */
export { Agent } from './agent.js';
export { DEFAULT_PROCESS_USER, hostUsers, processUser, type HostUsers } from './run-as.js';
export type { AgentObserver, AgentOptions } from './agent.js';
export { diskReleases, type HostInstallOptions, type ProcessSupervisor, type ReleaseStore } from './backends.js';
