/**
 * nodata (issue 15), as Falcon's nodata does it: a series a nodata rule matches that has not been
 * heard for the rule's `after` seconds gets the rule's mock value pushed, once per step, through
 * the ingestion (so the judge judges it as any point, and strategies alert on silence). It stops
 * as soon as the series is heard again. Runs under the judge's lease, every second.
 * Which rule covers a series is the strategies' answer (StrategyBook.nodataFor).
 */
import type { FalconPoint } from '../../api/index.js';
import type { IngestPort, NodataRulePort, PointFeedPort, SeenSeries, StrategyPort } from './ports.js';

/** How often the series are looked at. */
export const NODATA_EVERY_MS = 1000;

interface Silent {
  /** the data time of the last mock pushed */
  mockTs: number;
  /** when the series was last really heard (ms) */
  heardAt: number;
}

/**
 * The mock points due at `nowMs`, given each series as last seen and what was pushed already
 * (`pushed`, updated). Pure but for `pushed`.
 */
export function dueMocks(
  seen: readonly SeenSeries[],
  ruleFor: (s: SeenSeries) => NodataRulePort | undefined,
  pushed: Map<string, Silent>,
  nowMs: number,
): FalconPoint[] {
  const out: FalconPoint[] = [];
  const nowS = Math.floor(nowMs / 1000);
  for (const s of seen) {
    const rule = ruleFor(s);
    if (!rule) {
      pushed.delete(s.key);
      continue;
    }
    let silent = pushed.get(s.key);
    // a point newer than our last mock is a real one: heard again
    if (silent && s.lastTs > silent.mockTs) {
      pushed.delete(s.key);
      silent = undefined;
    }
    const heardAt = silent?.heardAt ?? s.lastReceived;
    if (nowMs - heardAt < rule.afterSeconds * 1000) continue;
    const step = rule.step ?? (s.step > 0 ? s.step : 60);
    const ts = nowS - (nowS % step);
    if (ts <= s.lastTs) continue; // this step has its point (real or mock) already
    pushed.set(s.key, { mockTs: ts, heardAt });
    out.push({ endpoint: s.endpoint, metric: s.metric, tags: s.tags, timestamp: ts, step, value: rule.mock, counterType: 'GAUGE' });
  }
  return out;
}

/** Pushes what is due every NODATA_EVERY_MS while started. */
export class NodataRunner {
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  readonly #pushed = new Map<string, Silent>();
  /** mock points pushed since started */
  pushedCount = 0;

  constructor(
    private readonly o: {
      feed: PointFeedPort;
      book: StrategyPort;
      ingest: IngestPort;
      log: (line: string) => void;
      now?: () => number;
      everyMs?: number;
    },
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.tick(), this.o.everyMs ?? NODATA_EVERY_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One look at every series (the timer's; tests call it). */
  async tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const metrics = this.o.book.nodataMetrics();
      if (metrics.length === 0) return; // no rule: no series read (a fleet's million, every second)
      const seen = await this.o.feed.seriesSeen(metrics);
      const mocks = dueMocks(seen, (s) => this.o.book.nodataFor(s), this.#pushed, (this.o.now ?? Date.now)());
      if (mocks.length === 0) return;
      this.o.ingest.take(mocks, { kind: 'nodata' });
      this.pushedCount += mocks.length;
    } catch (err) {
      this.o.log(`nodata: a round failed (tried again in a second): ${(err as Error).message}`);
    } finally {
      this.#busy = false;
    }
  }
}
