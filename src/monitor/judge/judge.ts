/**
 * The judge: Open-Falcon's (modules/judge/store), with its exact semantics, built for many
 * series. Per series it keeps the newest `remain` points; a point not newer than the newest kept
 * (or not above 0) is dropped and not judged; every other point is kept and judged against the
 * candidate strategies, host-bound ones first (Falcon's CheckStrategy), then tag-bound ones
 * (CheckExpression), each group in the given order. Events follow Falcon's sendEventIfNeed.
 *
 * Memory and speed: the series' histories are rings in typed-array slabs (a series is a number;
 * one Map from its key to that number, and an Int32Array from the store's series id to it, so a
 * point that comes with its store id costs no string hashing: `seriesOf`), strategies are parsed once (cached by object), the last
 * events live in typed arrays chained per series, and a push that sends nothing allocates
 * nothing (it returns a shared, frozen empty array). Which of the candidates apply to a series
 * (metric, endpoint, tags, a valid func, each expression once) is worked out once per series and
 * candidates array (`Resolved`), shared by every series that keeps them all: a point then costs
 * one lookup (an array read by store id, or a Map lookup by key), its ring and the functions, and no tag is compared. A candidates array given
 * to `push` must therefore not be changed afterwards (give a new array instead).
 */
import { seriesKey as makeSeriesKey } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { computeKind, type FuncResult, type OpKind, opKind, type ParsedFunc, parseFunc } from './funcs.js';
import { flat, NOTHING_APPLIES, type Prepared, programOf, RULE_FIELDS, related, type Resolved } from './rules.js';
import { DEFAULT_JUDGE_CONFIG, type JudgeConfig, type JudgeEvent, type JudgePoint, type JudgeStrategy } from './types.js';

/** What `push` returns when nothing is sent: shared and frozen, never to be modified. */
const NO_EVENTS = Object.freeze([]) as unknown as JudgeEvent[];

/** A last event, as `lastEvent` shows it. */
export interface LastEvent {
  status: 'PROBLEM' | 'OK';
  currentStep: number;
  eventTime: number;
}

const STATUS_OK = 0;
const STATUS_PROBLEM = 1;

/**
 * Store ids above this many per series held (plus a floor) go through the key instead: the
 * id-to-series array stays near the ids' density (dense for the store's series ids).
 */
const STORE_IDS_PER_SERIES = 16;
const STORE_IDS_FLOOR = 1 << 16;

/** Sizing hints: how many series to make room for at once (the slabs grow by doubling anyway). */
export interface JudgeOptions {
  expectedSeries?: number;
  /**
   * The series' key as a string kept elsewhere in this process (the metrics ingestion's), to hold
   * that one instead of a copy of its own: 70,000 series keys are about 8 MB. Undefined: the
   * judge keeps a flat copy.
   */
  keptKey?: (key: string) => string | undefined;
}

/** Open-Falcon's judge. One instance holds every series' history and last events. */
export class Judge {
  readonly config: JudgeConfig;
  private readonly remain: number;
  private readonly keptKey: ((key: string) => string | undefined) | undefined;
  private readonly index = new Map<string, number>();
  /** per store series id (metric_series): the judge's number of the series plus 1; 0 when not yet met */
  private byStoreId = new Int32Array(0);
  private seriesCount = 0;
  private capacity: number;
  // the series' rings: point i of series s at s*remain + i
  private times: Float64Array;
  private values: Float64Array;
  private head: Int32Array;
  private size: Int32Array;
  /** 1 when the newest point's counterType is GAUGE (Falcon reads the newest point's type) */
  private gauge: Uint8Array;
  /** first last-event record of each series, -1 for none */
  private eventHead: Int32Array;
  // last events, chained per series
  private evNext = new Int32Array(1024);
  private evSlot = new Int32Array(1024);
  private evStatus = new Uint8Array(1024);
  private evStep = new Int32Array(1024);
  private evTime = new Float64Array(1024);
  private evCount = 0;
  // strategies
  private readonly prepared = new WeakMap<JudgeStrategy, Prepared | null>();
  private readonly slots = new Map<string, number>();
  /** per series: the candidates array last resolved for it, and what of it applies */
  private candidatesOf: Array<readonly JudgeStrategy[] | undefined> = [];
  private resolvedOf: Array<Resolved | undefined> = [];
  /** per candidates array: its resolution when every candidate applies (shared by those series) */
  private readonly whole = new WeakMap<readonly JudgeStrategy[], Resolved>();
  /** strategies skipped because their func does not parse (Falcon logs these and goes on) */
  invalidStrategies = 0;
  /** events recorded but not sent because their left value is NaN or infinite (as in Falcon) */
  unsendable = 0;
  // scratch: the history of the point being judged, newest first (rates for COUNTER and DERIVE)
  private readonly scratchValues: Float64Array;
  private readonly result: FuncResult = { leftValue: 0, isTriggered: false };

  constructor(config: JudgeConfig = DEFAULT_JUDGE_CONFIG, options: JudgeOptions = {}) {
    if (!Number.isInteger(config.remain) || config.remain < 1) {
      throw new NoopsError('NOOPS_E_INPUT', `the judge's remain must be a whole number of points, at least 1 (got ${config.remain})`);
    }
    this.config = { ...config };
    this.remain = config.remain;
    this.keptKey = options.keptKey;
    this.capacity = Math.max(16, options.expectedSeries ?? 1024);
    const cap = this.capacity;
    this.times = new Float64Array(cap * this.remain);
    this.values = new Float64Array(cap * this.remain);
    this.head = new Int32Array(cap);
    this.size = new Int32Array(cap);
    this.gauge = new Uint8Array(cap);
    this.eventHead = new Int32Array(cap).fill(-1);
    this.scratchValues = new Float64Array(this.remain);
  }

  /** How many series the judge holds. */
  get series(): number {
    return this.seriesCount;
  }

  /** How many last events (strategy and series) the judge holds. */
  get lastEvents(): number {
    return this.evCount;
  }

  /**
   * Takes one point at the judge's clock `nowSeconds` and judges it against `candidates` (the
   * judge checks each one's relevance: same metric; host-bound ones the same endpoint and their
   * tags on the series; tag-bound ones their tags on the series, a tag `endpoint` matching the
   * endpoint). Returns the events sent, in order; a shared frozen empty array when none.
   * `key` is the series key when the caller has it (api seriesKey), to save building it.
   */
  push(point: JudgePoint, nowSeconds: number, candidates: readonly JudgeStrategy[], key?: string): JudgeEvent[] {
    const k = key ?? makeSeriesKey(point.endpoint, point.metric, point.tags);
    let s = this.index.get(k);
    if (s === undefined) s = this.addSeries(k);
    return this.pushSeries(s, k, point, nowSeconds, candidates);
  }

  /** The number of a series (by its api seriesKey), given on first sight; stable while the judge lives. */
  seriesId(key: string): number {
    const s = this.index.get(key);
    return s === undefined ? this.addSeries(key) : s;
  }

  /**
   * The number of the store's series `storeId` (the id of `metric_series` the feed gives with
   * each point), whose key is `key`: an array read once met. On its first sight the series is
   * found (or added) by its key, so a series met by key (`push`, `seed`, `seedLastEvent`: a
   * takeover, a point from an older peer) and then by id is one series. The store never gives
   * one id to two series; an id that is not a whole number, or far beyond the ids met (see
   * STORE_IDS_PER_SERIES), is not remembered and its points go through the key.
   */
  seriesOf(storeId: number, key: string): number {
    // undefined (so not above 0) for an id outside the array, negative or not whole
    const known = this.byStoreId[storeId]!;
    if (known > 0) return known - 1;
    return this.learnStoreId(storeId, key);
  }

  /** `push` for a series whose number (`seriesId`) and key the caller holds: what the judge loop calls. */
  pushSeries(s: number, key: string, point: JudgePoint, nowSeconds: number, candidates: readonly JudgeStrategy[]): JudgeEvent[] {
    if (!this.accept(s, point)) return NO_EVENTS;
    if (candidates.length === 0) return NO_EVENTS;
    const resolved = this.candidatesOf[s] === candidates ? this.resolvedOf[s]! : this.resolve(s, point, candidates);
    if (resolved.maxNeed === 0) return NO_EVENTS;
    return this.judge(s, key, point, nowSeconds, resolved);
  }

  /**
   * Rebuilds a series' history (after a takeover) from its stored points, in any order: each is
   * kept by the same rule as a push (newer than the newest kept), none is judged.
   */
  seed(seriesKey: string, points: readonly JudgePoint[]): void {
    let s = this.index.get(seriesKey);
    if (s === undefined) s = this.addSeries(seriesKey);
    const sorted = [...points].sort((a, b) => a.timestamp - b.timestamp);
    for (const p of sorted) this.accept(s, p);
  }

  /** Rebuilds the last event of a strategy and series (after a takeover), from a stored event. */
  seedLastEvent(event: JudgeEvent): void {
    const key = makeSeriesKey(event.endpoint, event.metric, event.tags);
    let s = this.index.get(key);
    if (s === undefined) s = this.addSeries(key);
    const prefix = event.id.startsWith('e_') ? 'e_' : 's_';
    const slot = this.slotOf(`${prefix}${event.strategy.id}`);
    this.setEvent(s, slot, event.status === 'PROBLEM' ? STATUS_PROBLEM : STATUS_OK, event.currentStep, event.eventTime);
  }

  /** The last event sent for a strategy (host-bound or not) and series, if any. */
  lastEvent(strategyId: string, hostBound: boolean, seriesKey: string): LastEvent | undefined {
    const s = this.index.get(seriesKey);
    const slot = this.slots.get(`${hostBound ? 's_' : 'e_'}${strategyId}`);
    if (s === undefined || slot === undefined) return undefined;
    const r = this.findEvent(s, slot);
    if (r < 0) return undefined;
    return { status: this.evStatus[r] === STATUS_PROBLEM ? 'PROBLEM' : 'OK', currentStep: this.evStep[r]!, eventTime: this.evTime[r]! };
  }

  /** Bytes held by the typed arrays (the rest is the key Map and the strategies' cache). */
  slabBytes(): number {
    let n = this.times.byteLength + this.values.byteLength + this.head.byteLength + this.size.byteLength;
    n += this.gauge.byteLength + this.eventHead.byteLength + this.byStoreId.byteLength;
    n += this.evNext.byteLength + this.evSlot.byteLength + this.evStatus.byteLength + this.evStep.byteLength + this.evTime.byteLength;
    return n;
  }

  /** Falcon's PushFrontAndMaintain: false (dropped) when not newer than the newest kept, or not above 0. */
  private accept(s: number, point: JudgePoint): boolean {
    const remain = this.remain;
    const n = this.size[s]!;
    let h = this.head[s]!;
    const ts = point.timestamp;
    if (n > 0 && (ts <= this.times[s * remain + h]! || ts <= 0)) return false;
    h = h + 1 === remain ? 0 : h + 1;
    this.head[s] = h;
    this.times[s * remain + h] = ts;
    this.values[s * remain + h] = point.value;
    if (n < remain) this.size[s] = n + 1;
    const c = point.counterType.charCodeAt(0);
    this.gauge[s] = c === 71 || c === 103 ? 1 : 0;
    return true;
  }

  /**
   * Which candidates apply to series `s` (the point is one of it), in Falcon's order: host-bound
   * ones first (CheckStrategy), then tag-bound ones (CheckExpression), each group in the given
   * order; an expression once however many of its keys match; none whose func does not parse;
   * no expression without tags (Falcon indexes them by their tags). Kept for the next points.
   */
  private resolve(s: number, point: JudgePoint, candidates: readonly JudgeStrategy[]): Resolved {
    const strategies: JudgeStrategy[] = [];
    const prepared: Prepared[] = [];
    const expressions = new Set<number>();
    let maxNeed = 0;
    for (let pass = 0; pass < 2; pass++) {
      const hostBound = pass === 0;
      for (let i = 0; i < candidates.length; i++) {
        const c = candidates[i]!;
        if ((c.endpoint !== undefined) !== hostBound || c.metric !== point.metric) continue;
        if (hostBound && c.endpoint !== point.endpoint) continue;
        const p = this.prepare(c, hostBound);
        if (p === null || (!hostBound && p.pairs.length === 0) || !related(p, point, hostBound)) continue;
        if (!hostBound) {
          if (expressions.has(p.slot)) continue;
          expressions.add(p.slot);
        }
        strategies.push(c);
        prepared.push(p);
        maxNeed = Math.max(maxNeed, p.func.need);
      }
    }
    let resolved: Resolved;
    if (prepared.length === 0) resolved = NOTHING_APPLIES;
    else if (prepared.length === candidates.length) {
      // every candidate applies: the same for every series given this array (if in the same order)
      const known = this.whole.get(candidates);
      if (known?.strategies.every((c, i) => c === strategies[i])) resolved = known;
      else {
        resolved = { strategies, prepared, maxNeed, program: programOf(prepared, strategies) };
        if (known === undefined) this.whole.set(candidates, resolved);
      }
    } else resolved = { strategies, prepared, maxNeed, program: programOf(prepared, strategies) };
    this.candidatesOf[s] = candidates;
    this.resolvedOf[s] = resolved;
    return resolved;
  }

  private judge(s: number, key: string, point: JudgePoint, now: number, resolved: Resolved): JudgeEvent[] {
    let out: JudgeEvent[] | undefined;
    const available = this.history(s, resolved.maxNeed);
    const program = resolved.program;
    for (let at = 0, i = 0; at < program.length; at += RULE_FIELDS, i++) {
      const need = program[at]!;
      if (need < 1 || need > available) continue; // not enough data: nothing judged
      computeKind(
        program[at + 1]!,
        program[at + 2]!,
        program[at + 3]!,
        program[at + 4]! as OpKind,
        program[at + 5]!,
        this.scratchValues,
        this.result,
      );
      const event = this.sendIfNeed(s, key, resolved, i, program[at + 6]!, program[at + 7]!, point, now, need);
      if (event !== undefined) (out ??= []).push(event);
    }
    return out ?? NO_EVENTS;
  }

  /**
   * Fills the scratch history (newest first), at most `upTo` entries (the functions read no
   * more), and returns how many points (or rates) the series holds.
   */
  private history(s: number, upTo: number): number {
    const remain = this.remain;
    const base = s * remain;
    const n = this.size[s]!;
    const h = this.head[s]!;
    const vs = this.scratchValues;
    if (this.gauge[s] === 1) {
      const fill = Math.min(n, upTo);
      for (let i = 0, at = h; i < fill; i++, at = at === 0 ? remain - 1 : at - 1) vs[i] = this.values[base + at]!;
      return n;
    }
    // COUNTER, DERIVE: the rate between each point and the one before it, stamped with the newer
    let at = h;
    const fill = Math.min(n - 1, upTo);
    for (let i = 0; i < fill; i++) {
      const older = at === 0 ? remain - 1 : at - 1;
      const t = this.times[base + at]!;
      vs[i] = (this.values[base + at]! - this.values[base + older]!) / (t - this.times[base + older]!);
      at = older;
    }
    return n - 1;
  }

  /**
   * The timestamp of the oldest history entry a function reading `need` of them used: the
   * (need-1)th point before the newest (a rate is stamped with the newer of its two points).
   */
  private oldestTime(s: number, need: number): number {
    const remain = this.remain;
    const at = this.head[s]! - (need - 1);
    return this.times[s * remain + (at < 0 ? at + remain : at)]!;
  }

  /** Falcon's sendEventIfNeed; `need` the history entries the function read (the oldest of them: `oldestTime`). */
  private sendIfNeed(
    s: number,
    key: string,
    resolved: Resolved,
    i: number,
    maxStep: number,
    slot: number,
    point: JudgePoint,
    now: number,
    need: number,
  ): JudgeEvent | undefined {
    if (!this.result.isTriggered && this.eventHead[s] === -1) return undefined; // nothing to recover from
    const r = this.findEvent(s, slot);
    const left = this.result.leftValue;
    if (this.result.isTriggered) {
      if (r < 0 || this.evStatus[r] === STATUS_OK) {
        if (maxStep === 0) return undefined; // Falcon: a maximum of 0 silences the strategy
        return this.emit(s, r, key, resolved.prepared[i]!, resolved.strategies[i]!, point, 'PROBLEM', 1, left);
      }
      const last = this.evTime[r]!;
      if (this.evStep[r]! >= maxStep) return undefined;
      if (this.oldestTime(s, need) <= last) return undefined; // a point that raised an event is not judged again
      if (now - last < this.config.minInterval) return undefined;
      return this.emit(s, r, key, resolved.prepared[i]!, resolved.strategies[i]!, point, 'PROBLEM', this.evStep[r]! + 1, left);
    }
    if (r >= 0 && this.evStatus[r] === STATUS_PROBLEM)
      return this.emit(s, r, key, resolved.prepared[i]!, resolved.strategies[i]!, point, 'OK', 1, left);
    return undefined;
  }

  private emit(
    s: number,
    r: number,
    key: string,
    p: Prepared,
    c: JudgeStrategy,
    point: JudgePoint,
    status: 'PROBLEM' | 'OK',
    step: number,
    leftValue: number,
  ): JudgeEvent | undefined {
    const code = status === 'PROBLEM' ? STATUS_PROBLEM : STATUS_OK;
    if (r >= 0) {
      this.evStatus[r] = code;
      this.evStep[r] = step;
      this.evTime[r] = point.timestamp;
    } else {
      this.setEvent(s, p.slot, code, step, point.timestamp);
    }
    if (!Number.isFinite(leftValue)) {
      // Falcon records the last event, then fails to marshal a NaN or infinite left value to
      // JSON (kpdiff dividing by a zero newer value), so the event never reaches the alarms
      this.unsendable++;
      return undefined;
    }
    return {
      id: p.idPrefix + key,
      strategy: c,
      endpoint: point.endpoint,
      metric: point.metric,
      tags: point.tags,
      status,
      currentStep: step,
      leftValue,
      eventTime: point.timestamp,
      priority: c.priority,
    };
  }

  private prepare(c: JudgeStrategy, hostBound: boolean): Prepared | null {
    const known = this.prepared.get(c);
    if (known !== undefined) return known;
    let func: ParsedFunc;
    try {
      func = parseFunc(c.func);
    } catch {
      // Falcon logs "parse func fail" and skips the strategy; the count says how many
      this.invalidStrategies++;
      this.prepared.set(c, null);
      return null;
    }
    const eventKey = `${hostBound ? 's_' : 'e_'}${c.id}`;
    const tagKeys = Object.keys(c.tags);
    const made: Prepared = {
      func,
      op: opKind(c.op),
      slot: this.slotOf(eventKey),
      idPrefix: `${eventKey}_`,
      pairs: tagKeys.map((k) => `${k}=${c.tags[k]}`),
      tagKeys,
      tagValues: tagKeys.map((k) => c.tags[k]!),
    };
    this.prepared.set(c, made);
    return made;
  }

  private slotOf(eventKey: string): number {
    let slot = this.slots.get(eventKey);
    if (slot === undefined) {
      slot = this.slots.size;
      this.slots.set(eventKey, slot);
    }
    return slot;
  }

  private findEvent(s: number, slot: number): number {
    for (let r = this.eventHead[s]!; r >= 0; r = this.evNext[r]!) if (this.evSlot[r] === slot) return r;
    return -1;
  }

  private setEvent(s: number, slot: number, status: number, step: number, time: number): void {
    let r = this.findEvent(s, slot);
    if (r < 0) {
      if (this.evCount === this.evNext.length) this.growEvents();
      r = this.evCount++;
      this.evSlot[r] = slot;
      this.evNext[r] = this.eventHead[s]!;
      this.eventHead[s] = r;
    }
    this.evStatus[r] = status;
    this.evStep[r] = step;
    this.evTime[r] = time;
  }

  private learnStoreId(storeId: number, key: string): number {
    const s = this.seriesId(key);
    if (!Number.isInteger(storeId) || storeId < 0 || storeId >= STORE_IDS_PER_SERIES * this.seriesCount + STORE_IDS_FLOOR) return s;
    if (storeId >= this.byStoreId.length) {
      const next = new Int32Array(Math.max(storeId + 1, this.byStoreId.length * 2, 1024));
      next.set(this.byStoreId);
      this.byStoreId = next;
    }
    this.byStoreId[storeId] = s + 1;
    return s;
  }

  private addSeries(key: string): number {
    if (this.seriesCount === this.capacity) this.growSeries();
    const s = this.seriesCount++;
    this.index.set(this.keptKey?.(key) ?? flat(key), s);
    this.head[s] = this.remain - 1;
    this.size[s] = 0;
    this.eventHead[s] = -1;
    // dense arrays (one entry per series, in order): V8 keeps them fast
    this.candidatesOf.push(undefined);
    this.resolvedOf.push(undefined);
    return s;
  }

  private growSeries(): void {
    const cap = this.capacity * 2;
    const grow = <T extends Float64Array | Int32Array | Uint8Array>(old: T, make: (n: number) => T, per: number): T => {
      const next = make(cap * per);
      next.set(old);
      return next;
    };
    this.times = grow(this.times, (n) => new Float64Array(n), this.remain);
    this.values = grow(this.values, (n) => new Float64Array(n), this.remain);
    this.head = grow(this.head, (n) => new Int32Array(n), 1);
    this.size = grow(this.size, (n) => new Int32Array(n), 1);
    this.gauge = grow(this.gauge, (n) => new Uint8Array(n), 1);
    this.eventHead = grow(this.eventHead, (n) => new Int32Array(n).fill(-1), 1);
    this.capacity = cap;
  }

  private growEvents(): void {
    const n = this.evNext.length * 2;
    const copy = <T extends Float64Array | Int32Array | Uint8Array>(old: T, next: T): T => {
      next.set(old);
      return next;
    };
    this.evNext = copy(this.evNext, new Int32Array(n));
    this.evSlot = copy(this.evSlot, new Int32Array(n));
    this.evStatus = copy(this.evStatus, new Uint8Array(n));
    this.evStep = copy(this.evStep, new Int32Array(n));
    this.evTime = copy(this.evTime, new Float64Array(n));
  }
}
