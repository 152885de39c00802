/**
 * The haproxy driver: a pool is a backend that noops alone fills (the operator configures it
 * empty), driven through the runtime API without a reload. Each apply reads what the backend
 * holds and moves it toward the pool: a new member is added (born in maint) then set to its
 * state; a moved one gets its new address and port in place; a server the pool no longer names
 * is set to maint and deleted once its sessions are gone (a later apply tries again). One
 * member's failure does not stop the others: the apply goes on and says what failed.
 */
import { HaproxyClient, type HaproxyServer } from './haproxy.js';
import type { PoolOutcome } from './outcome.js';
import type { ValidPool } from './validate.js';

type HaproxyPool = Extract<ValidPool, { driver: 'haproxy' }>;

/** Same address: textually, or as the same IPv6 address written otherwise. */
function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return new URL(`http://[${a}]/`).hostname === new URL(`http://[${b}]/`).hostname;
  } catch {
    return false;
  }
}

/** The backend's servers and their sessions, read at once; a failure says `show servers state`'s words first (an unknown backend). */
async function bothRead(client: HaproxyClient, backend: string): Promise<[HaproxyServer[], Map<string, number>]> {
  const [servers, sessions] = await Promise.allSettled([client.servers(backend), client.sessions(backend)]);
  if (servers.status === 'rejected') throw servers.reason;
  if (sessions.status === 'rejected') throw sessions.reason;
  return [servers.value, sessions.value];
}

export async function applyHaproxyPool(pool: HaproxyPool, client = new HaproxyClient(pool.socket)): Promise<PoolOutcome> {
  const backend = pool.backend;
  // both reads at once (one connection each): one round trip less before the change
  const [before, sessions] = await bothRead(client, backend);
  const held = new Map<string, HaproxyServer>(before.map((s) => [s.id, s]));
  const errors: string[] = [];
  let changed = false;
  const step = async (what: () => Promise<unknown>): Promise<boolean> => {
    try {
      await what();
      changed = true;
      return true;
    } catch (err) {
      errors.push((err as Error).message);
      return false;
    }
  };
  for (const m of pool.members) {
    const s = held.get(m.id);
    if (s === undefined) {
      if (!(await step(() => client.add(backend, m.id, m.address, m.port)))) continue;
      if (m.state !== 'maint') await step(() => client.setState(backend, m.id, m.state));
      continue;
    }
    if (!sameAddress(s.address, m.address) || s.port !== m.port) {
      if (!(await step(() => client.setAddress(backend, m.id, m.address, m.port)))) continue;
    }
    if (s.state !== m.state) await step(() => client.setState(backend, m.id, m.state));
  }
  const named = new Set(pool.members.map((m) => m.id));
  for (const s of before) {
    if (named.has(s.id)) continue;
    if (s.state !== 'maint' && !(await step(() => client.setState(backend, s.id, 'maint')))) continue;
    if ((sessions.get(s.id) ?? 0) > 0) continue; // deleted at a later apply, once they are gone
    try {
      if (await client.remove(backend, s.id)) changed = true;
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  // what the backend holds now, as haproxy says
  const [after, scur] = changed ? await bothRead(client, backend) : [before, sessions];
  return {
    members: after.map((s) => ({ id: s.id, state: s.state, connections: scur.get(s.id) ?? null })),
    ...(errors.length > 0 && { error: errors.join('; ') }),
  };
}
