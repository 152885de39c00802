/**
 * The server's side of trust (docs/trust.md): the identity of its database, stamped on every
 * join answer and desired state, and `noops host adopt`, which makes this server's answers
 * acceptable again to an agent that refuses them.
 */
import { randomUUID } from 'node:crypto';
import type { ServerStamp } from '../api/index.js';
import type { Store } from '../store/index.js';

/** The meta key of the database's identity. */
export const SERVER_ID_KEY = 'server_id';
/** The meta key of the refusal adopted for a host. */
export const adoptedKey = (host: string): string => `adopted:${host}`;

/** What `noops host adopt` recorded for a host. */
export interface Adoption {
  /** the agent's refusal id that the adoption answers */
  refusal: string;
  /** the host's generation the adoption raised it to */
  generation: number;
  by: string;
  at: string;
}

const ids = new WeakMap<Store, Promise<string>>();

/**
 * The database's identity: random, created once with the database (by the first server that
 * needs it; several servers on one database agree, see `initMeta`). An emptied or replaced
 * database has a new one; a restored backup has its own again.
 */
export function serverIdentity(store: Store): Promise<string> {
  let id = ids.get(store);
  if (id === undefined) {
    id = store.initMeta(SERVER_ID_KEY, randomUUID());
    id.catch(() => ids.delete(store)); // a store error is asked again next time, not kept
    ids.set(store, id);
  }
  return id;
}

/** The `server` field of a host's desired state: the identity and the adoption, if any. */
export async function serverStamp(store: Store, host: string): Promise<ServerStamp> {
  const [id, adopted] = await Promise.all([serverIdentity(store), store.getMeta(adoptedKey(host))]);
  return stampOf(id, adopted);
}

/** The `server` field from the server's identity and the host's stored adoption (its meta value, if any). */
export function stampOf(id: string, adopted: string | undefined): ServerStamp {
  const adoption = adopted === undefined ? undefined : (JSON.parse(adopted) as Adoption);
  return { id, ...(adoption && { adopted: adoption.refusal }) };
}

/** What adopting a host's agent will do to what it runs. */
export interface AdoptPlan {
  /** instances it runs that this server's desired state does not name: they stop */
  stops: { tag: string; version: string }[];
  /** instances whose version changes */
  switches: { tag: string; from: string; to: string }[];
  /** instances it does not run yet: they start */
  starts: { tag: string; version: string }[];
  /** instances it runs as they are desired: untouched */
  keeps: { tag: string; version: string }[];
}

/**
 * Compares what a host reports it runs with this server's desired state for it.
 *
 * @example adoptPlan([{ tag: 'a', version: 'v2' }], [{ tag: 'a', version: 'v1' }]) // switches a v2 -> v1
 */
export function adoptPlan(
  running: readonly { tag: string; version: string }[],
  desired: readonly { tag: string; version: string }[],
): AdoptPlan {
  const runs = new Map(running.map((r) => [r.tag, r.version]));
  const wants = new Map(desired.map((d) => [d.tag, d.version]));
  const plan: AdoptPlan = { stops: [], switches: [], starts: [], keeps: [] };
  for (const [tag, version] of [...runs].sort()) {
    const to = wants.get(tag);
    if (to === undefined) plan.stops.push({ tag, version });
    else if (to !== version) plan.switches.push({ tag, from: version, to });
    else plan.keeps.push({ tag, version });
  }
  for (const [tag, version] of [...wants].sort()) if (!runs.has(tag)) plan.starts.push({ tag, version });
  return plan;
}
