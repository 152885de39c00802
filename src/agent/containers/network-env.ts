/**
 * The host's network when the desired state carries none: `NOOPS_AGENT_NETWORK`, a HostNetwork
 * as JSON (`{"name":"noops","subnet":"198.18.200.0/24","gateway":"198.18.200.1","driver":"bridge","parent":null}`).
 * For a host whose server sets no pool, and for tests; the server's `noops network set` wins.
 */
import { NETWORK_DRIVERS, type HostNetwork } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';

/** The variable read. */
export const NETWORK_ENV = 'NOOPS_AGENT_NETWORK';

/** The network of `NOOPS_AGENT_NETWORK`, or undefined when unset. Throws NOOPS_E_INPUT for a bad one. */
export function networkFromEnv(env: NodeJS.ProcessEnv = process.env): HostNetwork | undefined {
  const text = env[NETWORK_ENV];
  if (text === undefined || text.trim() === '') return undefined;
  let v: Partial<HostNetwork>;
  try {
    v = JSON.parse(text) as Partial<HostNetwork>;
  } catch (err) {
    throw new NoopsError('NOOPS_E_INPUT', `${NETWORK_ENV} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const ok =
    typeof v.name === 'string' &&
    typeof v.subnet === 'string' &&
    typeof v.gateway === 'string' &&
    NETWORK_DRIVERS.includes(v.driver as HostNetwork['driver']);
  if (!ok) throw new NoopsError('NOOPS_E_INPUT', `${NETWORK_ENV} needs name, subnet, gateway and driver (bridge or macvlan)`);
  return { name: v.name!, subnet: v.subnet!, gateway: v.gateway!, driver: v.driver!, parent: v.parent ?? null };
}
