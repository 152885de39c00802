/**
 * Whether the agent applies an answer of its server, as pure decisions (docs/trust.md).
 *
 * The agent remembers the identity of the server database it follows and the highest
 * desired-state generation it accepted from it. It refuses:
 * - another identity: the database was replaced or emptied (its answer would stop everything);
 * - a lower generation: the database went back in time (a restored backup would roll back the
 *   fleet). This refusal is kept even when the generation later climbs past the remembered one,
 *   since the old database's next deploys would not make its other entries current;
 * - an answer signed with another key than the one it pinned (docs/trust.md#signed-releases):
 *   another server, or one whose signing key was replaced, would run what it signs;
 * - an answer that stops more than MAX_STOP_SHARE of the instances it runs without naming them
 *   in `stops` (an undeploy does).
 * A refused agent keeps running what it runs and reports the refusal; an admin's
 * `noops host adopt` marks the server's answer with the refusal's id, which the agent accepts.
 */
import type { TrustReport } from '../../api/index.js';

/**
 * The share of its instances one answer may stop without naming them in `stops`: half. A
 * deploy never removes an entry (a first deploy that fails removes one, of one cluster), so
 * more than half gone at once is a database that lost its rows, not an operator's intent.
 */
export const MAX_STOP_SHARE = 0.5;
/** An answer may always stop this many: a host running one instance can have it removed. */
export const MIN_STOPS_ALLOWED = 1;

/** Why an answer is refused. */
export type RefusalKind = 'identity' | 'generation' | 'stops' | 'key';

export interface Refusal {
  /** random, new for each refusal: an adopted answer names it, so no older answer can */
  id: string;
  kind: RefusalKind;
  reason: string;
  /** ISO time */
  since: string;
}

/** What the agent remembers of its server, in state.json. */
export interface ServerMemory {
  /** the identity of the server database the agent follows */
  id: string;
  /** the highest desired-state generation it accepted from it */
  generation: number;
  /** set while it refuses that server's answers */
  refusal?: Refusal;
}

/** What an answer says about who sent it. */
export interface ServerAnswer {
  /** the database identity; absent from servers before issue 12 */
  id: string | undefined;
  /** the desired-state generation; absent from a join answer */
  generation?: number;
  /** the refusal id an admin adopted for this host */
  adopted?: string;
  /** the id of the key the server signs releases with (computed by the agent); absent from servers before signing */
  key?: string;
}

export type TrustDecision = { accept: true; adopted: boolean } | { accept: false; kind: RefusalKind; reason: string };

/**
 * Accept or refuse an answer, given what the agent remembers (undefined: it never accepted one,
 * so the first server it meets is the one it follows).
 *
 * @example
 *   checkServer({ id: 'a', generation: 7 }, { id: 'a', generation: 5 })
 *   // { accept: false, kind: 'generation', reason: 'the server ... is at generation 5 ...' }
 */
export function checkServer(memory: ServerMemory | undefined, answer: ServerAnswer, pinnedKey?: string): TrustDecision {
  if (memory?.refusal !== undefined && answer.adopted === memory.refusal.id) return { accept: true, adopted: true };
  const badKey = checkKey(pinnedKey, answer.key);
  if (memory === undefined) return badKey === undefined ? { accept: true, adopted: false } : { accept: false, kind: 'key', reason: badKey };
  if (answer.id === undefined) {
    return {
      accept: false,
      kind: 'identity',
      reason: `the server sent no identity (this agent follows server ${memory.id}): it is older than this agent, or not the server it knows`,
    };
  }
  if (answer.id !== memory.id) {
    return {
      accept: false,
      kind: 'identity',
      reason: `the server's database is another one (identity ${answer.id}; this agent follows ${memory.id}): it was replaced or emptied, and its answer is not applied`,
    };
  }
  if (badKey !== undefined) return { accept: false, kind: 'key', reason: badKey };
  // Once the same database went back in time, nothing but an adoption makes it current again.
  if (memory.refusal?.kind === 'generation') return { accept: false, kind: 'generation', reason: memory.refusal.reason };
  if (answer.generation !== undefined && answer.generation < memory.generation) {
    return {
      accept: false,
      kind: 'generation',
      reason: `the server's desired state is at generation ${answer.generation}, older than generation ${memory.generation} this agent applied: its database went back in time (a restored backup?), and its answer is not applied`,
    };
  }
  return { accept: true, adopted: false };
}

/**
 * Why an answer signed with key `key` is refused by an agent that pinned `pinned` (undefined:
 * accepted; an agent that pinned nothing pins the first key it meets).
 *
 * @example checkKey('aa11', 'bb22') // 'the server signs releases with key bb22, but this agent trusts key aa11 ...'
 */
export function checkKey(pinned: string | undefined, key: string | undefined): string | undefined {
  if (pinned === undefined || key === pinned) return undefined;
  if (key === undefined) {
    return `the server names no release signing key (this agent trusts key ${pinned}): it is older than this agent, or not the server it knows, and its answer is not applied`;
  }
  return `the server signs releases with key ${key}, but this agent trusts key ${pinned}, pinned when it joined: it is another server, or its signing.key was replaced, and its answer is not applied`;
}

/** How many of `running` instances one answer may stop without naming them. */
export function stopsAllowed(running: number): number {
  return Math.max(MIN_STOPS_ALLOWED, Math.floor(running * MAX_STOP_SHARE));
}

/**
 * Refuses an answer that would stop more instances than allowed; tags in `explicit` (the
 * answer's `stops`) do not count. Answers the reason, or undefined when the answer may apply.
 *
 * @example checkStops(['a', 'b', 'c', 'd'], ['a'], []) // 'the answer would stop 3 of the 4 instances ...'
 */
export function checkStops(running: readonly string[], desired: readonly string[], explicit: readonly string[] = []): string | undefined {
  const wanted = new Set([...desired, ...explicit]);
  const stopping = running.filter((tag) => !wanted.has(tag));
  const allowed = stopsAllowed(running.length);
  if (stopping.length <= allowed) return undefined;
  return (
    `the answer would stop ${stopping.length} of the ${running.length} instances this host runs (${stopping.join(', ')}) ` +
    `without an undeploy naming them; at most ${allowed} may stop in one answer`
  );
}

/**
 * The memory after a refusal: the refusal keeps its id while its kind stays the same (an admin
 * may be adopting it), and gets a new one otherwise.
 */
export function refuse(memory: ServerMemory, kind: RefusalKind, reason: string, newId: () => string, now: Date): ServerMemory {
  const prev = memory.refusal;
  const refusal: Refusal =
    prev !== undefined && prev.kind === kind ? { ...prev, reason } : { id: newId(), kind, reason, since: now.toISOString() };
  return { ...memory, refusal };
}

/** The memory after accepting an answer of server `id` at `generation`. */
export function accept(memory: ServerMemory | undefined, id: string, generation: number | undefined): ServerMemory {
  // A join answer (no generation) from the server it follows keeps the generation it knows.
  const keep = memory !== undefined && memory.id === id ? memory.generation : 0;
  return { id, generation: generation ?? keep };
}

/** What the agent tells the server about its trust, in every report. */
export function trustReport(memory: ServerMemory | undefined): TrustReport {
  if (memory === undefined) return { state: 'accepted', server: null, generation: 0 };
  const { refusal } = memory;
  if (refusal === undefined) return { state: 'accepted', server: memory.id, generation: memory.generation };
  return {
    state: 'refused',
    server: memory.id,
    generation: memory.generation,
    reason: refusal.reason,
    refusal: refusal.id,
    since: refusal.since,
  };
}
