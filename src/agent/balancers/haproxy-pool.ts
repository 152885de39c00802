/**
 * The haproxy driver: a pool is a backend that noops alone fills (the operator configures it
 * empty), driven through the runtime API without a reload. Each apply reads what the backend
 * holds and moves it toward the pool: a new member is added (born in maint) then set to its
 * state; a moved one gets its new address and port in place; a server the pool no longer names
 * is set to maint and deleted once its sessions are gone (a later apply tries again). One
 * member's failure does not stop the others: the apply goes on and says what failed.
 *
 * The report is HAProxy's read at the apply's start (states and sessions) moved by each command
 * that HAProxy accepted; it is not read again after the commands. That read cost a round trip
 * (two connections) at the end of every apply that changed something, and the pool's next change
 * waited for it (a join right behind a drain of another host). Told that a newer pool waits
 * (`cut`), the apply stops before its next command, or at once while it reads (a read changes
 * nothing): the newer one is applied from a fresh read.
 */
import type { MemberState } from '../../api/index.js';
import { HaproxyClient, type HaproxyServer } from './haproxy.js';
import { CUT, type PoolOutcome } from './outcome.js';
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

/** `work`'s value, or undefined as soon as `cut` aborts (`work` goes on unheard; its failure too). */
async function untilCut<T>(work: Promise<T>, cut: AbortSignal | undefined): Promise<T | undefined> {
  if (cut === undefined) return work;
  if (cut.aborted) {
    work.catch(() => undefined);
    return undefined;
  }
  let stop: (() => void) | undefined;
  const stopped = new Promise<undefined>((resolve) => {
    stop = () => resolve(undefined);
    cut.addEventListener('abort', stop, { once: true });
  });
  work.catch(() => undefined); // a read cut off may fail later: nobody waits for it
  try {
    return await Promise.race([work, stopped]);
  } finally {
    cut.removeEventListener('abort', stop!);
  }
}

export async function applyHaproxyPool(
  pool: HaproxyPool,
  client = new HaproxyClient(pool.socket),
  /** aborted: a newer pool waits, and the apply stops before its next command (outcome.ts's CUT) */
  cut?: AbortSignal,
): Promise<PoolOutcome> {
  const backend = pool.backend;
  // both reads at once (one connection each): one round trip less before the change. A read
  // changes nothing: cut while it runs, the apply does not wait for its answer (a periodic
  // re-apply is all read, and the change that cuts it starts at once)
  const read = await untilCut(bothRead(client, backend), cut);
  if (read === undefined) return CUT;
  const [before, sessions] = read;
  const held = new Map<string, HaproxyServer>(before.map((s) => [s.id, s]));
  // what the backend holds after each command that worked: the report, without reading it again
  const now = new Map<string, MemberState>(before.map((s) => [s.id, s.state]));
  const errors: string[] = [];
  const step = async (what: () => Promise<unknown>): Promise<boolean> => {
    try {
      await what();
      return true;
    } catch (err) {
      errors.push((err as Error).message);
      return false;
    }
  };
  const setState = async (id: string, state: MemberState): Promise<boolean> => {
    if (!(await step(() => client.setState(backend, id, state)))) return false;
    now.set(id, state);
    return true;
  };
  for (const m of pool.members) {
    if (cut?.aborted) return CUT;
    const s = held.get(m.id);
    if (s === undefined) {
      if (m.state === 'ready') {
        // a join: added and set ready on one connection
        await step(async () => {
          const refused = await client.addReady(backend, m.id, m.address, m.port);
          now.set(m.id, refused === undefined ? 'ready' : 'maint');
          if (refused) throw refused;
        });
        continue;
      }
      if (!(await step(() => client.add(backend, m.id, m.address, m.port)))) continue;
      now.set(m.id, 'maint'); // born in maint
      if (m.state !== 'maint') await setState(m.id, m.state);
      continue;
    }
    if (!sameAddress(s.address, m.address) || s.port !== m.port) {
      if (!(await step(() => client.setAddress(backend, m.id, m.address, m.port)))) continue;
    }
    if (s.state !== m.state) await setState(m.id, m.state);
  }
  const named = new Set(pool.members.map((m) => m.id));
  for (const s of before) {
    if (named.has(s.id)) continue;
    if (cut?.aborted) return CUT;
    if (s.state !== 'maint' && !(await setState(s.id, 'maint'))) continue;
    if ((sessions.get(s.id) ?? 0) > 0) continue; // deleted at a later apply, once they are gone
    try {
      if (await client.remove(backend, s.id)) now.delete(s.id);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return {
    members: [...now].map(([id, state]) => ({ id, state, connections: sessions.get(id) ?? (held.has(id) ? null : 0) })),
    ...(errors.length > 0 && { error: errors.join('; ') }),
  };
}
