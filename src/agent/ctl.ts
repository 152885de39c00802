/**
 * The agent's second entry: the client side of its control socket, for `noops ctl` and whoever
 * talks to a running agent on its own host. Light on purpose (node:http and the error registry
 * only): importing it loads none of the agent (no API client, no supervisor, no installer).
 *
 * @example
 *   import { CtlClient, type WatchView } from '../agent/ctl.js';
 *   const watches = await new CtlClient('/var/lib/noops/agent').get<WatchView[]>('/v1/status');
 */
export { CtlClient } from './control/ctl-client.js';
export { ctlSocketPath } from './control/ctl-server.js';
export type { WatchView } from './control/control.js';
