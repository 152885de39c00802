/**
 * Who holds each token, remembered so that a request costs no database read: with 10,000
 * agents reporting every 5 s, the token lookup was one of the report route's largest costs.
 * Only tokens the store knows are remembered. An agent's token is replaced when the agent joins
 * again: the join forgets the old one here at once, and other servers on the same database
 * stop accepting it within AGENT_TOKEN_TTL_MS.
 */
import type { Principal } from './context.js';

/** How long another server may still accept a replaced agent token: short, and long enough
 * that a heartbeating agent's token is read from the store a few times a minute at most. */
export const AGENT_TOKEN_TTL_MS = 30_000;

export class PrincipalCache {
  private readonly byHash = new Map<string, { who: Principal; until: number }>();
  private readonly agentHashes = new Map<string, Set<string>>();

  /** The holder of the token with this sha256, if remembered and still fresh. */
  get(hash: string, now = Date.now()): Principal | undefined {
    const hit = this.byHash.get(hash);
    if (!hit) return undefined;
    if (hit.until > now) return hit.who;
    this.drop(hash, hit.who);
    return undefined;
  }

  /** Remembers a token the store knows: agents' for AGENT_TOKEN_TTL_MS, others' until restart. */
  set(hash: string, who: Principal, now = Date.now()): void {
    const agent = who.kind === 'agent';
    this.byHash.set(hash, { who, until: agent ? now + AGENT_TOKEN_TTL_MS : Infinity });
    if (!agent) return;
    let hashes = this.agentHashes.get(who.name);
    if (!hashes) this.agentHashes.set(who.name, (hashes = new Set()));
    hashes.add(hash);
  }

  /** Forgets every token of the agent `name` (it joined again, with a new token). */
  forgetAgent(name: string): void {
    for (const hash of this.agentHashes.get(name) ?? []) this.byHash.delete(hash);
    this.agentHashes.delete(name);
  }

  private drop(hash: string, who: Principal): void {
    this.byHash.delete(hash);
    const hashes = this.agentHashes.get(who.name);
    hashes?.delete(hash);
    if (hashes?.size === 0) this.agentHashes.delete(who.name);
  }
}
