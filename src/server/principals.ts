/**
 * Who holds each token, remembered so that a request costs no database read: with 10,000
 * agents reporting every 5 s, the token lookup was one of the report route's largest costs.
 * Only tokens the store knows are remembered. An agent's token is replaced when the agent joins
 * again, and revoked by `noops token revoke` or `noops host rm`: the server that did it forgets
 * the old one at once and publishes it on the change bus, so every other server on the same
 * database forgets it as soon as the bus brings it; the mark polled every REVOCATION_POLL_MS is
 * the fallback when a notification is lost.
 */
import { CHANNELS, type ChangeBus } from '../bus/index.js';
import type { Principal } from './context.js';

/**
 * How long a remembered agent token is used before it is read from the store again though
 * nothing said it changed. A replaced or revoked token is forgotten when that happens (here at
 * once, on the other servers through the bus, and through the mark read every REVOCATION_POLL_MS
 * when a notification was lost), so this is only the last net under those. It was 30 s: with
 * 10,000 agents, 333 store reads a second that found what the server knew (issue 19). An agent
 * token that expires is forgotten at its expiry whatever this says.
 */
export const AGENT_TOKEN_TTL_MS = 10 * 60_000;

/**
 * How often each server reads the mark that agent tokens were revoked or replaced (one tiny
 * read a second): a token revoked on one server is refused by every server within this, without
 * a store read per agent request (10,000 agents report every 5 s).
 */
export const REVOCATION_POLL_MS = 1_000;

/** The meta key that changes whenever an agent token is revoked or replaced (join, revoke, host rm). */
export const AGENT_TOKENS_CHANGED = 'agent_tokens_changed';

/** A new value for AGENT_TOKENS_CHANGED. */
export function revocationMark(): string {
  return `${new Date().toISOString()} ${Math.random().toString(36).slice(2, 10)}`;
}

export class PrincipalCache {
  private readonly byHash = new Map<string, { who: Principal; until: number }>();
  private readonly agentHashes = new Map<string, Set<string>>();

  /** `bus`: where a forgotten agent is told to every server (without one: this cache alone). */
  constructor(private readonly bus?: ChangeBus) {}

  /** The holder of the token with this sha256, if remembered and still fresh. */
  get(hash: string, now = Date.now()): Principal | undefined {
    const hit = this.byHash.get(hash);
    if (!hit) return undefined;
    if (hit.until > now) return hit.who;
    this.drop(hash, hit.who);
    return undefined;
  }

  /**
   * Remembers a token the store knows: agents' for AGENT_TOKEN_TTL_MS (or until `expiresAt`,
   * the token's own expiry, when sooner), others' until restart.
   */
  set(hash: string, who: Principal, now = Date.now(), expiresAt: string | null = null): void {
    const agent = who.kind === 'agent';
    const expires = expiresAt === null ? Infinity : Date.parse(expiresAt);
    this.byHash.set(hash, { who, until: agent ? Math.min(now + AGENT_TOKEN_TTL_MS, expires) : Infinity });
    if (!agent) return;
    let hashes = this.agentHashes.get(who.name);
    if (!hashes) this.agentHashes.set(who.name, (hashes = new Set()));
    hashes.add(hash);
  }

  /** Forgets every remembered token: the next request of each reads the store again. */
  clear(): void {
    this.byHash.clear();
    this.agentHashes.clear();
  }

  /**
   * Follows revocations made on other servers: the agents the bus names are forgotten at once
   * (everything, when the bus may have missed some), and `mark()`, read every `everyMs`, forgets
   * everything when it changed (the fallback). Answers a function that stops both.
   */
  watch(mark: () => Promise<string | undefined>, everyMs = REVOCATION_POLL_MS): () => void {
    const unsubscribe = this.bus?.subscribe(CHANNELS.agentTokens, { change: (name) => this.forgetHere(name), resync: () => this.clear() });
    let last: string | undefined;
    let started = false;
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      mark()
        .then((now) => {
          if (started && now !== last) this.clear();
          last = now;
          started = true;
        })
        .catch((err: Error) => {
          // Unknown: forget all, so nothing revoked is accepted from memory while the store is away.
          this.clear();
          process.emitWarning(`principals: could not read the revocation mark: ${err.message}`);
        })
        .finally(() => {
          busy = false;
        });
    }, everyMs);
    timer.unref();
    return () => {
      clearInterval(timer);
      unsubscribe?.();
    };
  }

  /**
   * Forgets every token of the agent `name` (it joined again, or was revoked), here and, through
   * the bus, on every server. Call it after the change is committed.
   */
  forgetAgent(name: string): void {
    this.forgetHere(name); // here at once, even before the bus brings it back
    this.bus?.publish(CHANNELS.agentTokens, name).catch((err: Error) => process.emitWarning(`principals: ${err.message}`));
  }

  /** Forgets every token of the agent `name` in this cache only (what the bus does on each server). */
  forgetHere(name: string): void {
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
