/**
 * Who answers for a name: the healthy endpoints under a selector, from the one read model of what
 * runs (monitor/'s `ActualState`), and blocking queries that wake when their answer changes.
 *
 * Each host's endpoints are worked out again when it reports (its processes, their health) and
 * when its liveness runs out (a host that stops reporting sends nothing): each live host waits in
 * a deadline wheel for the moment its last heartbeat gets too old, so time passing costs a look at
 * the hosts due then, not at every host (a sweep of all 10,000 every second before). Only a
 * change to some host's endpoints wakes the parked queries. Each distinct question (a selector
 * through a caller's scope, watchers.ts) is answered once per generation however many ask it or
 * wait on it: a change costs one answer per question and one `deliver` per watcher woken. An
 * answer's `index` is a hash of its endpoints: it changes exactly when they do, and is the same
 * on every server.
 */
import { createHash } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
// plain JSON values compared (twice node's isDeepStrictEqual's speed, at every report)
import sameJson from 'fast-deep-equal';
import { type AgentReport, type NamingAnswer, type NamingEndpoint, plainAddress, processAddress, replicaOf } from '../api/index.js';
import type { HostRow } from '../store/index.js';
import { formatSelector, matches, type Selector } from '../tree/index.js';
import { DeadlineWheel, Question, type NamingScope, type Watcher } from './watchers.js';
import { LivenessWheel } from './liveness.js';
import { HostRows, type RowsRead } from './host-rows.js';

/** The part of the read model (monitor/'s `ActualState`) naming reads. */
export interface NamingSource {
  hosts(): string[];
  lastReport(host: string): AgentReport | undefined;
  lastSeen(host: string, stored: string | null): string | null;
  isUp(lastHeartbeat: string | null, now?: number): boolean;
  /**
   * The last moment (ms since the epoch) the host counts as up, by `isUp`'s rule over
   * `lastSeen(host, stored)`, without a date written and parsed again (asked at every report);
   * null: never heard.
   */
  liveUntil(host: string, stored: string | null): number | null;
  on(event: 'report', listener: (host: string) => void): unknown;
  off(event: 'report', listener: (host: string) => void): unknown;
}

/**
 * Tells of hosts whose row changed (joined, joined again from another address, removed): the
 * server's change bus (`CHANNELS.agentTokens`: every join and removal forgets the agent's tokens,
 * on every server). Answers a function that stops listening.
 */
export type HostChanges = (on: { change(host: string): void; resync(): void }) => () => void;

/** How the view is tuned; the defaults suit a server. */
export interface NamingViewOptions {
  /**
   * how often the rows that may have changed without a word are read again: those of hosts this
   * server does not hear live (another server may be writing their heartbeats); every row when
   * `hostChanges` is not given
   */
  hostsRefreshMs?: number;
  /** with `hostChanges`: how often every host's row is read all the same (a safety net) */
  hostsFullReadMs?: number;
  /** hosts whose row changed: their rows are read at once, and only theirs */
  hostChanges?: HostChanges;
}

/**
 * With a change bus, every host's row is read again this often all the same: a row changed
 * without a word (a write no server announced, a message lost without a resync) is seen within
 * 5 minutes. At 10,000 hosts a full read was every 5 s before.
 */
export const HOSTS_FULL_READ_MS = 5 * 60_000;

/**
 * What one wake cost, published on the diagnostics channel `NAMING_WAKE_CHANNEL` (only when
 * something subscribes: the naming benchmark does, to time the server apart from its watchers).
 * Times are absolute ms (`performance.timeOrigin + performance.now()`: one clock for every
 * process of the machine).
 */
export interface NamingWake {
  /** the view's generation after the change */
  generation: number;
  /** when the change reached the view (a host's report taken, a sweep) */
  startedAt: number;
  /** when the last woken watcher's answer was handed to its socket */
  endedAt: number;
  /** watchers woken */
  woken: number;
  /** questions answered again */
  questions: number;
}

/** The diagnostics channel a `NamingWake` is published on after each change that wakes watchers. */
export const NAMING_WAKE_CHANNEL = 'noops:naming:wake';
const wakeChannel = channel(NAMING_WAKE_CHANNEL);

/** Questions kept without a parked watcher (asked since the last change); more are answered uncached. */
const MAX_IDLE_QUESTIONS = 10_000;

/** An address as an agent was seen from, without the IPv4-mapped prefix (one definition, in api/addresses.ts). */
export { plainAddress };

/** The index of a list of endpoints: 48 bits of their hash, never 0. */
export function indexOf(endpoints: readonly NamingEndpoint[]): number {
  const digest = createHash('sha256').update(JSON.stringify(endpoints)).digest();
  return digest.readUIntBE(0, 6) || 1;
}

function compareEndpoints(a: NamingEndpoint, b: NamingEndpoint): number {
  return a.tag < b.tag
    ? -1
    : a.tag > b.tag
      ? 1
      : a.process < b.process
        ? -1
        : a.process > b.process
          ? 1
          : a.host < b.host
            ? -1
            : a.host > b.host
              ? 1
              : 0;
}

/** See the file's comment. */
export class NamingView {
  /** each live host's endpoints (none: absent), compared as they are to see a change (a copy as JSON was 2 MB at 10,000 hosts) */
  private readonly byHost = new Map<string, NamingEndpoint[]>();
  private all: NamingEndpoint[] | undefined;
  /** every host's row as last read (its address, labels, stored heartbeat) */
  private readonly rows: HostRows;
  /** the live hosts, each due when its liveness runs out (unless it reports first) */
  private readonly liveness = new LivenessWheel((hosts) => this.lapsed(hosts));
  /** every question asked since the last change, and every one with parked watchers */
  private readonly questions = new Map<string, Question>();
  /** the questions with parked watchers */
  private readonly watched = new Set<Question>();
  private readonly deadlines = new DeadlineWheel<Watcher>((w) => this.expire(w));
  private readonly listener = (host: string): void => {
    this.refreshHost(host);
  };
  private readonly timers: NodeJS.Timeout[] = [];
  private stopChanges: (() => void) | undefined;
  /** raised at every change of any host's endpoints */
  generation = 0;

  /**
   * `hostsNamed`: reads the rows of the named hosts only. With it, a host that just joined costs
   * one read of its own row; without it, every host's (10,000 agents joining read all 10,000
   * rows again and again: the join's cost grew with the fleet).
   */
  constructor(
    private readonly source: NamingSource,
    listHosts: () => Promise<HostRow[]>,
    opts: NamingViewOptions = {},
    hostsNamed?: (names: string[]) => Promise<HostRow[]>,
  ) {
    this.rows = new HostRows(listHosts, hostsNamed, (read) => this.rowsRead(read));
    source.on('report', this.listener);
    const every = opts.hostsRefreshMs ?? 5000;
    if (opts.hostChanges && hostsNamed) {
      // rows read as they change (the bus), those of hosts not heard here every few seconds, every row rarely
      this.stopChanges = opts.hostChanges({ change: (host) => this.rows.read([host]), resync: () => void this.rows.readAll() });
      this.timers.push(setInterval(() => this.readUnheard(), every).unref());
      this.timers.push(setInterval(() => void this.rows.readAll(), opts.hostsFullReadMs ?? HOSTS_FULL_READ_MS).unref());
    } else {
      this.timers.push(setInterval(() => void this.rows.readAll(), every).unref());
    }
  }

  /** Reads the hosts' rows and works out every host's endpoints: once, before the first answer. */
  async start(): Promise<void> {
    await this.rows.readAll();
  }

  /** The host's row as last read (its address), if known. */
  host(name: string): HostRow | undefined {
    return this.rows.get(name);
  }

  /** The host's row by its name in any case (DNS names are not case-sensitive). */
  hostCaseless(name: string): HostRow | undefined {
    return this.rows.caseless(name);
  }

  /** The host whose agent joined from `address`, if one did. */
  hostAt(address: string): string | undefined {
    return this.rows.at(address);
  }

  /** The healthy endpoints matching `selector` (and `visible`, the caller's scope), with their index. */
  answer(selector: Selector, visible: (tag: string) => boolean = () => true, process?: string): NamingAnswer {
    this.all ??= [...this.byHost.values()].flat().sort(compareEndpoints);
    const matched = new Map<string, boolean>();
    const endpoints = this.all.filter((e) => {
      // every replica of the process (web, web@2, ...) answers for it
      if (process !== undefined && e.process !== process && replicaOf(e.process).process !== process) return false;
      let ok = matched.get(e.tag);
      if (ok === undefined) matched.set(e.tag, (ok = matches(selector, e.tag) && visible(e.tag)));
      return ok;
    });
    return { index: indexOf(endpoints), endpoints };
  }

  /**
   * The question of `selector` seen through `scope`: the same object for every caller with the
   * same scope key, so its answer is worked out once per generation for all of them.
   */
  question(selector: Selector, scope: NamingScope): Question {
    const target = formatSelector(selector);
    const key = `${scope.key}\u0000${target}`;
    let q = this.questions.get(key);
    if (q === undefined) {
      q = new Question(key, target, selector, scope);
      if (this.questions.size < MAX_IDLE_QUESTIONS) this.questions.set(key, q);
    }
    return q;
  }

  /** The question's answer now: worked out at most once per generation. */
  current(q: Question): NamingAnswer {
    if (q.generation !== this.generation || q.answer === undefined) {
      q.answer = this.answer(q.selector, (tag) => q.scope.sees(tag));
      q.generation = this.generation;
    }
    return q.answer;
  }

  /**
   * Parks `watcher` until its question's index differs from `watcher.index` (then `deliver`
   * gets the new answer) or for `waitMs` (then the answer as it stands). The caller checked the
   * index first: parking one whose index already differs waits for the next change.
   */
  park(watcher: Watcher, waitMs: number): void {
    const q = watcher.question;
    if (!this.questions.has(q.key)) this.questions.set(q.key, q); // kept while watched, whatever the cap
    q.watchers.add(watcher);
    this.watched.add(q);
    this.deadlines.add(watcher, Date.now() + waitMs);
  }

  /** Takes a parked watcher out without answering it (its caller left); false when it was not parked. */
  unpark(watcher: Watcher): boolean {
    if (!watcher.question.watchers.delete(watcher)) return false;
    this.deadlines.remove(watcher);
    if (watcher.question.watchers.size === 0) this.watched.delete(watcher.question);
    return true;
  }

  /**
   * Waits until the answer's index differs from `index`, at most `waitMs`; answers the current
   * answer then (the same index when the wait ran out). `signal`: the caller left. (A promise
   * for callers in this process; the HTTP route parks its responses directly.)
   */
  wait(
    selector: Selector,
    visible: (tag: string) => boolean,
    scopeKey: string,
    index: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<NamingAnswer> {
    const q = this.question(selector, { key: scopeKey, sees: visible });
    const now = this.current(q);
    if (now.index !== index || waitMs <= 0 || signal?.aborted) return Promise.resolve(now);
    return new Promise((resolve) => {
      const onAbort = () => {
        if (this.unpark(watcher)) resolve(this.current(q));
      };
      const watcher: Watcher = {
        question: q,
        index,
        tick: 0,
        target: resolve,
        deliver: (_w, a) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(a);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.park(watcher, waitMs);
    });
  }

  /** How many blocking queries are parked. */
  get parked(): number {
    return this.deadlines.size;
  }

  /** Stops listening and answers every parked query as it stands. */
  close(): void {
    this.source.off('report', this.listener);
    this.stopChanges?.();
    for (const t of this.timers) clearInterval(t);
    this.liveness.close();
    for (const w of this.deadlines.drain()) this.deliver(w, this.current(w.question));
    for (const q of this.watched) q.watchers.clear();
    this.watched.clear();
  }

  /** Rows were read: the hosts they are of (every host, for a read of every row) have their endpoints worked out again. */
  private rowsRead(read: RowsRead): void {
    let any = false;
    if (read.all) {
      for (const host of new Set([...this.byHost.keys(), ...this.source.hosts()])) any = this.refreshHost(host, false) || any;
    } else {
      // a host without a row (removed, or not joined) is not asked again until its next report
      for (const h of read.hosts) any = this.refreshHost(h.name, false, h.found) || any;
    }
    if (any) this.changed(); // parked questions are answered again only when an endpoint changed
  }

  /**
   * Reads the rows of the hosts this server does not hear live (no heartbeat in memory within their
   * down-after time): another server may hear them and write their heartbeats. On one server these
   * are the hosts that went down; every live host's heartbeat is in memory.
   */
  private readUnheard(): void {
    const names: string[] = [];
    for (const host of new Set([...this.byHost.keys(), ...this.source.hosts()])) {
      const heard = this.source.lastSeen(host, null);
      if (heard === null || !this.source.isUp(heard)) names.push(host);
    }
    if (names.length > 0) this.rows.read(names);
  }

  /** Live hosts' liveness ran out (their wheel entries came due together): worked out again, the watchers woken once. */
  private lapsed(hosts: readonly string[]): void {
    let any = false;
    for (const host of hosts) any = this.refreshHost(host, false) || any;
    if (any) this.changed();
  }

  /**
   * Works out a host's endpoints again; true (and, when `wake`, wakes the waiters) when they
   * changed. `readRow`: a host that reports without a row read yet has it read.
   */
  private refreshHost(host: string, wake = true, readRow = true): boolean {
    const row = this.rows.get(host);
    const report = this.source.lastReport(host);
    if (row === undefined && report !== undefined && readRow) this.rows.read([host]); // a new host: its address (with the others that joined meanwhile)
    const until = report === undefined ? null : this.source.liveUntil(host, row?.lastHeartbeat ?? null);
    const live = until !== null && Date.now() <= until;
    this.liveness.watch(host, live ? until : undefined);
    const endpoints = live ? this.endpointsOf(host, row, report!) : [];
    if (sameJson(this.byHost.get(host) ?? [], endpoints)) return false;
    if (endpoints.length === 0) this.byHost.delete(host);
    else this.byHost.set(host, endpoints);
    this.all = undefined;
    if (wake) this.changed();
    return true;
  }

  /** A live host's endpoints: its healthy processes. */
  private endpointsOf(host: string, row: HostRow | undefined, report: AgentReport): NamingEndpoint[] {
    return (
      report.processes
        .filter((p) => p.state === 'up' && (p.health === undefined || p.health === 'healthy'))
        // a container's own address, else the host's (its `address` label, else where its agent connects from)
        .map((p) => ({ host, address: processAddress(p, row), port: p.port, process: p.process, tag: p.tag, version: p.version }))
        .sort(compareEndpoints)
    );
  }

  /**
   * Something changed: each watched question is answered once (at the new generation), and its
   * watchers whose index moved are delivered that one answer, in one loop. Questions nobody
   * waits on are dropped (their answers are stale).
   */
  private changed(): void {
    const startedAt = wakeChannel.hasSubscribers ? performance.timeOrigin + performance.now() : 0;
    this.generation += 1;
    for (const [key, q] of this.questions) if (q.watchers.size === 0) this.questions.delete(key);
    let woken = 0;
    const questions = this.watched.size;
    for (const q of [...this.watched]) {
      const a = this.current(q);
      for (const w of q.watchers) {
        if (w.index === a.index) continue;
        q.watchers.delete(w);
        this.deadlines.remove(w);
        this.deliver(w, a);
        woken += 1;
      }
      if (q.watchers.size === 0) this.watched.delete(q);
    }
    if (startedAt !== 0 && woken > 0) {
      const wake: NamingWake = {
        generation: this.generation,
        startedAt,
        endedAt: performance.timeOrigin + performance.now(),
        woken,
        questions,
      };
      wakeChannel.publish(wake);
    }
  }

  /** A watcher's wait ran out: the answer as it stands. */
  private expire(w: Watcher): void {
    const q = w.question;
    q.watchers.delete(w);
    if (q.watchers.size === 0) this.watched.delete(q);
    this.deliver(w, this.current(q));
  }

  private deliver(w: Watcher, a: NamingAnswer): void {
    try {
      w.deliver(w, a);
    } catch (err) {
      process.emitWarning(`naming: answering a blocking query failed: ${(err as Error).message}`);
    }
  }
}
