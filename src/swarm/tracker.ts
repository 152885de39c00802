/**
 * The tracker (docs/packages-p2p.md): for each package being downloaded, who holds which piece
 * and who is fetching what from whom; and the choice of the next pieces of one agent. It holds
 * memory only (a restarted server starts over: the first copy comes from the seed again), and
 * does no I/O: the route gives it what the agent said, the time and a random source.
 *
 * The choice, for one agent: its missing pieces, rarest first; for each, among the peers that
 * hold it and serve fewer than MAX_UPLOADS_PER_PEER pieces now, the one sharing most of its
 * labels (rack before zone), then the least busy. The server (SEED) serves a piece only when no
 * live peer holds it or is fetching it, or when this agent has waited SEED_AFTER_MS with
 * nothing to do: so the server sends about one copy, and a lone host still gets its package.
 */
import { SEED, type Assignment, type SwarmRequest } from './wire.js';

/** Pieces a peer serves at once, as the tracker assigns them ("no peer serves more than a few"). */
export const MAX_UPLOADS_PER_PEER = 4;
/** Pieces one agent fetches at once: enough to fill a link with pieces of a few MiB, few enough to spread sources. */
export const MAX_FETCHES_PER_AGENT = 4;
/** Pieces the server serves at once per package: the first copy of a package of up to 16 pieces (64 MiB) goes out in one round. */
export const MAX_SEED_UPLOADS = 16;
/** An assignment not reported after this long is counted as over (its agent died or hung). */
export const ASSIGNMENT_TTL_MS = 30_000;
/**
 * An assignment past ASSIGNMENT_TTL_MS is still known this much longer, for a late `bad` report
 * only: a fetch can outlast the TTL (PEER_TIMEOUT_MS for the range, once more on a new connection
 * when a kept one was lost, then the agent's next request), and a peer that stalled 29 s and then
 * sent a bad piece was banned by its victim alone, offered to the others as before.
 */
export const LATE_BAD_MS = 60_000;
/** A peer not heard of for this long is not offered (it may have stopped); 10 minutes covers a quiet seed. */
export const PEER_TTL_MS = 10 * 60_000;
/**
 * An agent given nothing for this long gets pieces from the server even if busy peers hold them.
 * Long enough that a swarm growing normally (each holder serving four at once, pieces of a few
 * ms on a fast link) never reaches it; short enough that a stuck one costs seconds, not minutes.
 */
export const SEED_AFTER_MS = 5_000;
/**
 * A peer an agent found busy (503) or gone is not given to that agent again for this long: given
 * back at once (it was the least busy holder again, its upload just freed), an agent whose peer
 * refused every range, or whose port a firewall closes, was sent to it round after round and its
 * download stalled until it failed; now it goes to another holder, or waits SEED_AFTER_MS and
 * gets the piece from the server.
 */
export const AVOID_FAILED_MS = 10_000;
/**
 * A peer reported gone (it did not answer the agents the tracker sent to it) by GONE_REPORTERS
 * agents within this long is offered to no one for this long, whatever it announces meanwhile:
 * its own next request named its address and pieces again, and put it back before anyone could
 * get the piece elsewhere. One agent's word is not enough: its own network, or its tickets
 * refused for its address, would take every peer it was sent to out for everyone.
 */
export const GONE_COOLDOWN_MS = 30_000;
/** Distinct agents whose `gone` reports within GONE_COOLDOWN_MS put a peer out for everyone. */
export const GONE_REPORTERS = 2;
/** When nothing could be assigned: ask again after about this long (the agent adds jitter). */
export const RETRY_MS = 150;
/**
 * How long the route may hold an answer with nothing in it, waiting for the swarm to change (a
 * piece landing somewhere, an upload freed) rather than have the agent ask again every RETRY_MS:
 * a waiting host then hears of a piece as soon as a peer tells it holds it, and costs the server one
 * request a second instead of six. Well under the agent's deadline for an answer (30 s).
 */
export const HOLD_MS = 1_000;
/** Agents whose wait ends when a piece lands or an upload is freed: as many as a new holder can serve, and one for the freed upload. */
export const WAKE_PER_CHANGE = MAX_UPLOADS_PER_PEER + 1;
/** Assignments past their time are looked for at most this often (each look goes over every assignment of the package). */
const EXPIRE_EVERY_MS = 1_000;
/** A package no agent asked about for this long is forgotten. */
export const SWARM_TTL_MS = 30 * 60_000;
/** Labels whose equal values make a peer nearer, in order of weight (the same rack is nearest). */
export const AFFINITY_LABELS = ['rack', 'zone'] as const;

interface Peer {
  host: string;
  url: string | undefined;
  labels: Record<string, string>;
  have: Uint8Array;
  uploads: number;
  seen: number;
  /** offered to no one before this (ms): reported gone by GONE_REPORTERS agents (GONE_COOLDOWN_MS) */
  goneUntil: number;
  /** who reported it gone lately, and when (ms): at most one entry an agent */
  goneBy: Map<string, number>;
  /** what it is fetching now, by piece */
  fetches: Map<number, Flight>;
}

interface Flight {
  requester: string;
  piece: number;
  from: string;
  at: number;
  /** counted in `fetching`: its requester serves peers, so the piece will be there for others */
  counted: boolean;
}

interface Swarm {
  n: number;
  peers: Map<string, Peer>;
  /** who holds each piece */
  holders: Set<string>[];
  banned: Set<string>;
  /** key `requester\npiece` */
  flights: Map<string, Flight>;
  /** assignments past their time, key `requester\npiece\npeer`: until when a `bad` report of them is believed (LATE_BAD_MS) */
  expired: Map<string, number>;
  /** per piece, fetches in flight by agents that serve peers */
  fetching: Uint16Array;
  seedUploads: number;
  /** agents given nothing, since when */
  waiting: Map<string, number>;
  /** per agent, the peers it found busy or gone and is not given until a time (AVOID_FAILED_MS) */
  avoid: Map<string, Map<string, number>>;
  used: number;
  /** when assignments past their time were last looked for */
  expiredAt: number;
}

/** Who asks: its host name, its labels, and where it serves (undefined: it serves none). */
export interface Asker {
  host: string;
  labels: Record<string, string>;
  url: string | undefined;
}

/** What the tracker decided for one request. */
export interface TrackerAnswer {
  assignments: Assignment[];
  retryMs: number;
}

export class Tracker {
  private readonly swarms = new Map<string, Swarm>();
  /** per package, the callers of `changed` waiting for its next change */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /** Whether `host` is known in the swarm of `sha256` (its labels need not be looked up again). */
  knows(sha256: string, host: string): boolean {
    return this.swarms.get(sha256)?.peers.has(host) ?? false;
  }

  /** Whether `host` is banned for `sha256` (it served a piece that did not match). */
  banned(sha256: string, host: string): boolean {
    return this.swarms.get(sha256)?.banned.has(host) ?? false;
  }

  /** Pieces a peer (or SEED) is serving now, as assigned. */
  uploads(sha256: string, host: string): number {
    const s = this.swarms.get(sha256);
    if (!s) return 0;
    return host === SEED ? s.seedUploads : (s.peers.get(host)?.uploads ?? 0);
  }

  /**
   * Resolves at the next change of the swarm of `sha256` that may give a waiting agent something
   * (a piece held by one more agent, an assignment over), or after `ms`, whichever comes first.
   */
  changed(sha256: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(sha256);
      if (!set) this.waiters.set(sha256, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(sha256) === set) this.waiters.delete(sha256);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  /** Ends the wait of the `count` agents waiting longest on `sha256` (all: Infinity). */
  private wake(sha256: string, count: number): void {
    const set = this.waiters.get(sha256);
    if (!set) return;
    for (const done of [...set].slice(0, count)) done();
  }

  /**
   * Takes one agent's request for package `sha256` of `n` pieces and answers its next pieces.
   * `labels` are used when the agent is new to this swarm (else those it had).
   */
  announce(sha256: string, n: number, asker: Asker, req: SwarmRequest): TrackerAnswer {
    const now = this.clock();
    const s = this.swarm(sha256, n, now);
    this.expire(s, now);
    let me = s.peers.get(asker.host);
    if (!me) {
      me = {
        host: asker.host,
        url: undefined,
        labels: asker.labels,
        have: new Uint8Array(n),
        uploads: 0,
        seen: now,
        goneUntil: 0,
        goneBy: new Map(),
        fetches: new Map(),
      };
      s.peers.set(asker.host, me);
    }
    me.seen = now;
    if (!s.banned.has(asker.host)) me.url = asker.url;
    let moved = false;
    for (const r of req.done ?? []) moved = this.land(s, asker.host, r.piece) !== undefined || moved;
    // A peer is dropped or banned only on the word of an agent the tracker sent to it for that
    // piece: an agent cannot have peers it was never given dropped or banned.
    for (const r of req.failed ?? []) {
      const f = this.land(s, asker.host, r.piece);
      moved ||= f !== undefined;
      if (f === undefined || f.from !== r.from || r.from === SEED) continue;
      this.avoid(s, asker.host, r.from, now); // this agent: not sent back to it for a while (a gone one, too)
      if (r.why === 'gone') {
        this.drop(s, r.from);
        const p = s.peers.get(r.from);
        if (p) {
          for (const [by, at] of p.goneBy) if (now - at > GONE_COOLDOWN_MS) p.goneBy.delete(by);
          p.goneBy.set(asker.host, now);
          if (p.goneBy.size >= GONE_REPORTERS) p.goneUntil = now + GONE_COOLDOWN_MS;
        }
      }
    }
    for (const r of req.bad ?? []) {
      const f = this.land(s, asker.host, r.piece);
      const lateUntil = s.expired.get(`${asker.host}\n${r.piece}\n${r.from}`);
      const sent = f?.from === r.from || (lateUntil !== undefined && lateUntil > now);
      if (r.from === SEED || !sent) continue; // the server's own copy is checked by its sha256 when the table is made
      s.banned.add(r.from);
      this.drop(s, r.from);
    }
    // `have` even with `complete`: a download that ended holds every piece and says so, and one
    // given up holds none it serves (an agent once said `complete` with what it had and stopped
    // serving it, and was counted a holder of every piece: peers sent to it until reported gone)
    moved = this.setHave(s, me, req.have) || moved;
    if (req.complete) {
      s.waiting.delete(asker.host);
      s.avoid.delete(asker.host);
      for (const piece of [...me.fetches.keys()]) this.land(s, asker.host, piece);
      this.wake(sha256, Infinity);
      return { assignments: [], retryMs: 0 };
    }
    const assignments = this.choose(s, me, now);
    // a piece held by one more agent, or an upload freed: a few waiting agents may now be served
    if (moved) this.wake(sha256, WAKE_PER_CHANGE);
    const mine = me.fetches.size;
    if (assignments.length > 0 || mine > 0) s.waiting.delete(asker.host);
    else if (!s.waiting.has(asker.host)) s.waiting.set(asker.host, now);
    // retryMs 0: something to do (new pieces, or pieces still coming in); else wait and ask again
    return { assignments, retryMs: assignments.length > 0 || mine > 0 ? 0 : RETRY_MS };
  }

  private swarm(sha256: string, n: number, now: number): Swarm {
    let s = this.swarms.get(sha256);
    if (s && s.n !== n) s = undefined; // another layout (cannot happen for one sha256; start over)
    if (!s) {
      for (const [k, old] of this.swarms) if (now - old.used > SWARM_TTL_MS) this.swarms.delete(k);
      s = {
        n,
        peers: new Map(),
        holders: Array.from({ length: n }, () => new Set<string>()),
        banned: new Set(),
        flights: new Map(),
        expired: new Map(),
        fetching: new Uint16Array(n),
        seedUploads: 0,
        waiting: new Map(),
        avoid: new Map(),
        used: now,
        expiredAt: now,
      };
      this.swarms.set(sha256, s);
    }
    s.used = now;
    return s;
  }

  /** Assignments past their time are over: their sources are free again (kept LATE_BAD_MS for a late `bad`); so are avoided peers. */
  private expire(s: Swarm, now: number): void {
    if (now - s.expiredAt < EXPIRE_EVERY_MS) return;
    s.expiredAt = now;
    for (const [key, until] of s.expired) if (until <= now) s.expired.delete(key);
    for (const [key, f] of [...s.flights]) {
      if (now - f.at <= ASSIGNMENT_TTL_MS) continue;
      // by peer too: the piece given again to the same agent from another peer, and expired too, keeps the first
      if (f.from !== SEED) s.expired.set(`${key}\n${f.from}`, now + LATE_BAD_MS);
      this.land(s, f.requester, f.piece);
    }
    for (const [requester, m] of s.avoid) {
      for (const [p, until] of m) if (until <= now) m.delete(p);
      if (m.size === 0) s.avoid.delete(requester);
    }
  }

  /** The assignment of `piece` to `requester` is over (fetched, failed, refused or expired): it, if there was one. */
  private land(s: Swarm, requester: string, piece: number): Flight | undefined {
    const key = `${requester}\n${piece}`;
    const f = s.flights.get(key);
    if (!f) return undefined;
    s.flights.delete(key);
    s.peers.get(requester)?.fetches.delete(piece);
    if (f.counted) s.fetching[f.piece] = Math.max(0, s.fetching[f.piece]! - 1);
    if (f.from === SEED) s.seedUploads = Math.max(0, s.seedUploads - 1);
    else {
      const p = s.peers.get(f.from);
      if (p) p.uploads = Math.max(0, p.uploads - 1);
    }
    return f;
  }

  /** `requester` is not given `peer` for AVOID_FAILED_MS from `now` (entries past their time go in `expire`). */
  private avoid(s: Swarm, requester: string, peer: string, now: number): void {
    let m = s.avoid.get(requester);
    if (!m) s.avoid.set(requester, (m = new Map()));
    m.set(peer, now + AVOID_FAILED_MS);
  }

  /** A peer that is gone or banned holds nothing any more, as far as others are told. */
  private drop(s: Swarm, host: string): void {
    const p = s.peers.get(host);
    if (!p) return;
    p.url = undefined;
    this.setHave(s, p, []);
  }

  /** Sets what `p` holds; true when it holds a piece it did not before (and serves peers). */
  private setHave(s: Swarm, p: Peer, have: readonly number[] | Uint8Array): boolean {
    const next = new Uint8Array(s.n);
    for (const i of have) if (Number.isInteger(i) && i >= 0 && i < s.n) next[i] = 1;
    let more = false;
    for (let i = 0; i < s.n; i++) {
      if (next[i] === p.have[i]) continue;
      if (next[i]) s.holders[i]!.add(p.host);
      else s.holders[i]!.delete(p.host);
      more ||= next[i] === 1;
    }
    p.have = next;
    return more && p.url !== undefined;
  }

  private choose(s: Swarm, me: Peer, now: number): Assignment[] {
    let slots = MAX_FETCHES_PER_AGENT;
    const busy = new Set<number>();
    for (const piece of me.fetches.keys()) {
      slots--;
      busy.add(piece);
    }
    if (slots <= 0) return [];
    // missing pieces, rarest first (holders and fetches), ties in random order to spread them
    const missing: { piece: number; rarity: number; tie: number }[] = [];
    for (let i = 0; i < s.n; i++) {
      if (me.have[i] || busy.has(i)) continue;
      missing.push({ piece: i, rarity: s.holders[i]!.size + s.fetching[i]!, tie: this.random() });
    }
    missing.sort((a, b) => a.rarity - b.rarity || a.tie - b.tie);
    const starving = now - (s.waiting.get(me.host) ?? now) >= SEED_AFTER_MS;
    const out: Assignment[] = [];
    for (const { piece } of missing) {
      if (slots <= 0) break;
      const peer = this.pickPeer(s, me, piece, now);
      if (peer) {
        peer.uploads++;
        this.fly(s, me, piece, peer.host, now);
        out.push({ piece, from: peer.host, url: peer.url! });
        slots--;
        continue;
      }
      const nobodyHasIt = !this.liveHolder(s, piece, now) && s.fetching[piece] === 0;
      if ((nobodyHasIt || starving) && s.seedUploads < MAX_SEED_UPLOADS) {
        s.seedUploads++;
        this.fly(s, me, piece, SEED, now);
        out.push({ piece, from: SEED });
        slots--;
      }
    }
    return out;
  }

  private fly(s: Swarm, me: Peer, piece: number, from: string, now: number): void {
    const counted = me.url !== undefined;
    const f: Flight = { requester: me.host, piece, from, at: now, counted };
    s.flights.set(`${me.host}\n${piece}`, f);
    me.fetches.set(piece, f);
    if (counted) s.fetching[piece]!++;
  }

  private usable(s: Swarm, p: Peer | undefined, now: number): p is Peer {
    return p !== undefined && p.url !== undefined && !s.banned.has(p.host) && now - p.seen <= PEER_TTL_MS && now >= p.goneUntil;
  }

  private liveHolder(s: Swarm, piece: number, now: number): boolean {
    for (const h of s.holders[piece]!) if (this.usable(s, s.peers.get(h), now)) return true;
    return false;
  }

  /** The nearest, then least busy, usable holder of `piece` with an upload free (random among equals). */
  private pickPeer(s: Swarm, me: Peer, piece: number, now: number): Peer | undefined {
    let best: Peer | undefined;
    let bestKey = [-1, 0, 0];
    // none can be better than one as near as can be and idle: the first such ends the search
    // (a piece of a large fleet has hundreds of holders, and each answer looks at a few pieces)
    const nearest = affinity(me.labels, me.labels);
    const avoided = s.avoid.get(me.host);
    for (const h of s.holders[piece]!) {
      if (h === me.host) continue;
      const p = s.peers.get(h);
      if (!this.usable(s, p, now) || p.uploads >= MAX_UPLOADS_PER_PEER) continue;
      if (avoided !== undefined && (avoided.get(h) ?? 0) > now) continue;
      const near = affinity(me.labels, p.labels);
      if (near === nearest && p.uploads === 0) return p;
      const key = [near, -p.uploads, this.random()];
      if (better(key, bestKey)) {
        best = p;
        bestKey = key;
      }
    }
    return best;
  }
}

/**
 * How near two hosts are by their labels: 2 per AFFINITY_LABELS step from the end, so the same
 * rack (3 with the same zone) outweighs the same zone alone (1).
 *
 * @example affinity({ rack: 'r1', zone: 'z1' }, { rack: 'r1', zone: 'z1' }) // 3
 */
export function affinity(a: Record<string, string>, b: Record<string, string>): number {
  let score = 0;
  AFFINITY_LABELS.forEach((label, i) => {
    const w = 2 ** (AFFINITY_LABELS.length - 1 - i);
    if (a[label] !== undefined && a[label] === b[label]) score += w;
  });
  return score;
}

function better(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! > b[i]!;
  return false;
}
