/**
 * The agent's code as the simulated agents run it. A fleet worker runs the built JavaScript in
 * dist/, as `noops agent` does on a host (and as the benchmark's server runs): the sources through
 * tsx give every function a `name` property set at run time (esbuild's keepNames), which made
 * 19 of each agent's closures heavier and was 7% of a worker's heap at 10,000 agents.
 * `Fleet` sets NOOPS_BENCH_AGENT_CODE=dist for its workers (`npm run bench` builds first);
 * anything else (the tests) loads the sources, so that they need no build.
 *
 * What the simulation's own pieces need of the agent's code comes from here too: an error the
 * simulated supervisor throws is the same class the agent's code checks for.
 */
import type * as AgentModule from '../../src/agent/index.js';
import type * as ErrorsModule from '../../src/errors/index.js';
import type * as SupervisorModule from '../../src/supervisor/index.js';
import type * as SwarmModule from '../../src/swarm/index.js';

/** Where the agent's code comes from: 'dist' (the fleet's workers) or 'src'. */
export const AGENT_CODE = process.env.NOOPS_BENCH_AGENT_CODE === 'dist' ? 'dist' : 'src';

const root = new URL(`../../${AGENT_CODE}/`, import.meta.url);
const load = async <T>(path: string): Promise<T> => (await import(new URL(path, root).href)) as T;

export const { Agent } = await load<typeof AgentModule>('agent/index.js');
export const { NoopsError } = await load<typeof ErrorsModule>('errors/index.js');
export const { logPaths } = await load<typeof SupervisorModule>('supervisor/index.js');
export const { keepSpareBytes, SPARE_BYTES } = await load<typeof SwarmModule>('swarm/index.js');
