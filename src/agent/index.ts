/**
 * The host daemon: join, heartbeat, reconcile, supervise. See README.md for the file map and the
 * vocabulary. The installer (install/install.ts, with tar) is not re-exported here: it is loaded
 * on the first install, so an agent that never installs never loads it. The control socket's
 * client, for `noops ctl`, is the second entry ctl.ts (light: none of the agent).
 */
export { Agent } from './agent.js';
export { NGINX_LUA_FILE, type NginxLuaPool, nginxLuaConf } from './balancers/nginx-lua.js';
export { DEFAULT_PROCESS_USER, hostUsers, processUser, type HostUsers } from './run-as.js';
export type { AgentObserver, AgentOptions } from './agent.js';
export { diskReleases, type HostInstallOptions, type ProcessSupervisor, type ReleaseStore } from './backends.js';
export { planReconcile, type ActualState, type ReconcileAction, type VerifyRelease } from './reconcile-plan.js';
export { rebuildInstances, readReleaseOnDisk, scanProcesses, type FoundProcess, type ReleaseOnDisk } from './rebuild.js';
export {
  DEFAULT_METRICS_EVERY_MS,
  DEFAULT_PUSH_LISTEN,
  parseMetricsEvery,
  pushListenFlag,
} from './metrics/index.js';
export { DEFAULT_PEER_LISTEN, peerListenFlag, SwarmClient, type SwarmCounts } from './swarm-download.js';
