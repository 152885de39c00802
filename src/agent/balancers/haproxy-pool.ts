/**
 * The haproxy driver: a pool is a backend that noops alone fills (the operator configures it
 * empty), driven through the runtime API without a reload. An apply reads what the backend
 * holds (or starts from what it is known to hold, below) and moves it toward the pool: a new
 * member is added (born in maint) then set to its state; a moved one gets its new address and
 * port in place; a server the pool no longer names is set to maint and deleted once its
 * sessions are gone (a later apply tries again). One member's failure does not stop the others:
 * the apply goes on and says what failed.
 *
 * The report is HAProxy's read at the apply's start (states and sessions) moved by each command
 * that HAProxy accepted; it is not read again after the commands. That read cost a round trip
 * (two connections) at the end of every apply that changed something, and the pool's next change
 * waited for it (a join right behind a drain of another host). Told that a newer pool waits
 * (`cut`), the apply stops before its next command, or at once while it reads (a read changes
 * nothing): the newer one is applied from a fresh read.
 *
 * `HaproxyDriver` keeps what each backend held after its last apply that ended with every
 * command accepted: a change to that is applied from it, with no read first (the sessions are read
 * beside the commands, on a second connection, for the report and the deletions): a join is one
 * round trip, not two. Only noops fills the backend; should HAProxy refuse a command (what it
 * holds is not what was known), the apply starts again from a fresh read. What is known is trusted
 * for KNOWN_FRESH_MS, and an apply that changes nothing (each heartbeat's re-apply, every 250 ms
 * while a member drains) reads, and renews it.
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

/** What a backend holds after an apply: the outcome reported, and its servers with their addresses (what is known next). */
interface Applied {
  outcome: PoolOutcome;
  held: HaproxyServer[];
}

/** Applies `pool` from a read of the backend (what the applier's drivers do with no known state). */
export async function applyHaproxyPool(
  pool: HaproxyPool,
  client = new HaproxyClient(pool.socket),
  /** aborted: a newer pool waits, and the apply stops before its next command (outcome.ts's CUT) */
  cut?: AbortSignal,
): Promise<PoolOutcome> {
  return (await applyFrom(pool, client, cut, undefined)).outcome;
}

/**
 * Moves the backend toward `pool`: from `known` (what it held after the last apply; its sessions
 * read beside the commands) or, without it, from a read of both first.
 */
async function applyFrom(
  pool: HaproxyPool,
  client: HaproxyClient,
  cut: AbortSignal | undefined,
  known: HaproxyServer[] | undefined,
): Promise<Applied> {
  const backend = pool.backend;
  let before: HaproxyServer[];
  let sessionsOf: () => Promise<Map<string, number>>;
  if (known === undefined) {
    // both reads at once (one connection each): one round trip less before the change. A read
    // changes nothing: cut while it runs, the apply does not wait for its answer (a periodic
    // re-apply is all read, and the change that cuts it starts at once)
    const read = await untilCut(bothRead(client, backend), cut);
    if (read === undefined) return { outcome: CUT, held: [] };
    before = read[0];
    sessionsOf = () => Promise.resolve(read[1]);
  } else {
    if (cut?.aborted) return { outcome: CUT, held: [] };
    before = known;
    const reading = client.sessions(backend);
    reading.catch(() => undefined); // waited for after the commands; cut before, nobody does
    sessionsOf = () => reading;
  }
  const held = new Map<string, HaproxyServer>(before.map((s) => [s.id, { ...s }]));
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
  const setState = async (s: HaproxyServer, state: MemberState): Promise<boolean> => {
    if (!(await step(() => client.setState(backend, s.id, state)))) return false;
    s.state = state;
    return true;
  };
  const fresh = new Set<string>(); // added by this apply
  for (const m of pool.members) {
    if (cut?.aborted) return { outcome: CUT, held: [] };
    const s = held.get(m.id);
    if (s === undefined) {
      const added: HaproxyServer = { id: m.id, address: m.address, port: m.port, state: 'maint' }; // born in maint
      if (m.state === 'ready') {
        // a join: added and set ready on one connection
        await step(async () => {
          const refused = await client.addReady(backend, m.id, m.address, m.port);
          held.set(m.id, { ...added, state: refused === undefined ? 'ready' : 'maint' });
          fresh.add(m.id);
          if (refused) throw refused;
        });
        continue;
      }
      if (!(await step(() => client.add(backend, m.id, m.address, m.port)))) continue;
      held.set(m.id, added);
      fresh.add(m.id);
      if (m.state !== 'maint') await setState(added, m.state);
      continue;
    }
    if (!sameAddress(s.address, m.address) || s.port !== m.port) {
      if (!(await step(() => client.setAddress(backend, m.id, m.address, m.port)))) continue;
      s.address = m.address;
      s.port = m.port;
    }
    if (s.state !== m.state) await setState(s, m.state);
  }
  let sessions: Map<string, number>;
  try {
    sessions = await sessionsOf();
  } catch (err) {
    errors.push((err as Error).message);
    sessions = new Map();
  }
  const named = new Set(pool.members.map((m) => m.id));
  for (const s of before) {
    if (named.has(s.id)) continue;
    if (cut?.aborted) return { outcome: CUT, held: [] };
    const h = held.get(s.id)!;
    if (h.state !== 'maint' && !(await setState(h, 'maint'))) continue;
    if ((sessions.get(s.id) ?? 0) > 0) continue; // deleted at a later apply, once they are gone
    try {
      if (await client.remove(backend, s.id)) held.delete(s.id);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  return {
    outcome: {
      members: [...held.values()].map((s) => ({
        id: s.id,
        state: s.state,
        connections: sessions.get(s.id) ?? (fresh.has(s.id) ? 0 : null),
      })),
      ...(errors.length > 0 && { error: errors.join('; ') }),
    },
    held: [...held.values()],
  };
}

/** How long what a backend held after an apply is trusted for a change sent without a read first. */
export const KNOWN_FRESH_MS = 30_000;

/** True when the backend, as known, already holds `pool` as it is (nothing to change: a re-apply, which reads). */
function holdsAlready(known: HaproxyServer[], pool: HaproxyPool): boolean {
  if (known.length !== pool.members.length) return false;
  const byId = new Map(known.map((s) => [s.id, s]));
  return pool.members.every((m) => {
    const s = byId.get(m.id);
    return s !== undefined && s.state === m.state && s.port === m.port && sameAddress(s.address, m.address);
  });
}

/** The haproxy pools an applier drives, with what each backend held after its last clean apply (a change without a read first). */
export class HaproxyDriver {
  private readonly known = new Map<string, { servers: HaproxyServer[]; at: number }>();

  constructor(
    private readonly clientOf: (socket: string) => HaproxyClient = (socket) => new HaproxyClient(socket),
    private readonly now: () => number = Date.now,
  ) {}

  async apply(pool: HaproxyPool, cut?: AbortSignal): Promise<PoolOutcome> {
    const key = `${pool.socket}\n${pool.backend}`;
    const client = this.clientOf(pool.socket);
    const known = this.known.get(key);
    this.known.delete(key); // renewed by an apply that ends clean
    let applied: Applied | undefined;
    if (known !== undefined && this.now() - known.at <= KNOWN_FRESH_MS && !holdsAlready(known.servers, pool)) {
      applied = await applyFrom(pool, client, cut, known.servers);
      // a command refused: HAProxy holds something else than was known; again, from a read
      if (applied.outcome.error !== undefined) applied = undefined;
    }
    applied ??= await applyFrom(pool, client, cut, undefined);
    if (!applied.outcome.cut && applied.outcome.error === undefined) this.known.set(key, { servers: applied.held, at: this.now() });
    return applied.outcome;
  }

  /** Forgets what `pool`'s backend held (a pool no longer driven, or driven elsewhere). */
  forget(pool: HaproxyPool): void {
    this.known.delete(`${pool.socket}\n${pool.backend}`);
  }
}
