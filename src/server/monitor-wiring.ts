/**
 * The judge loop among the servers of one database (issue 15; docs/monitoring.md, "On several
 * servers"): the server that leads `LOOPS.judge` judges every stored point once, stores the
 * events, delivers them and runs nodata; the others only store points and answer reads.
 *
 *   Leadership gained(judge) ──> StrategyBook loaded ──> loop.lead(fence)   (seed from the store, tail the feed)
 *   Leadership lost(judge)   ──> loop.follow(why), the book closed (only the leader holds one)
 *   bus `points`             ──> loop.wake()        (a stored batch: read it now)
 *   loop 'fenced'            ──> Leadership.fenced  (a refused write: this server leads no more)
 *   loop 'stored'            ──> bus `alarms`       (the console's alarm page, every server)
 *
 * The judge's settings: Falcon's `remain` 11 and `minInterval` 300 s, or NOOPS_JUDGE_REMAIN and
 * NOOPS_JUDGE_MIN_INTERVAL (seconds) in the server's environment (tests use small ones).
 */
import { CHANNELS, type ChangeBus } from '../bus/index.js';
import { NoopsError } from '../errors/index.js';
import { type Leadership, LOOPS } from '../lead/index.js';
import type { ActualState } from '../monitor/index.js';
import { JudgeLoop } from '../monitor/alarms/index.js';
import { DEFAULT_JUDGE_CONFIG, Judge, type JudgeConfig } from '../monitor/judge/index.js';
import { StrategyBook } from '../monitor/strategies/index.js';
import type { Store } from '../store/index.js';
import type { ServerMetrics } from './metrics-wiring.js';

/** The judge's settings from the environment, Falcon's defaults otherwise. */
export function judgeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): JudgeConfig {
  const read = (name: string, fallback: number, least: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < least)
      throw new NoopsError('NOOPS_E_INPUT', `${name}="${raw}" is not a whole number of at least ${least}`);
    return n;
  };
  return {
    remain: read('NOOPS_JUDGE_REMAIN', DEFAULT_JUDGE_CONFIG.remain, 1),
    minInterval: read('NOOPS_JUDGE_MIN_INTERVAL', DEFAULT_JUDGE_CONFIG.minInterval, 0),
  };
}

/**
 * Wires the judge loop; answers it, the leader's strategy book (undefined while this server does
 * not lead the judge), and a close.
 */
export async function wireMonitor(w: {
  store: Store;
  bus: ChangeBus;
  leadership: Leadership;
  metrics: ServerMetrics;
  reports: ActualState;
  /** one server on SQLite: its writes go unfenced */
  alone: boolean;
  log: (line: string) => void;
  config?: JudgeConfig;
}): Promise<{ loop: JudgeLoop; book(): StrategyBook | undefined; leadingNow(): Promise<void>; close(): Promise<void> }> {
  const config = w.config ?? judgeConfigFromEnv();
  // Only the judge's leader reads strategies: the book is made when it leads, closed when it stops.
  let book: StrategyBook | undefined;
  const reading = (): StrategyBook => {
    if (book === undefined) throw new NoopsError('NOOPS_E_INTERNAL', 'the judge loop ran without its strategy book');
    return book;
  };
  const loop = new JudgeLoop({
    store: w.store,
    feed: w.metrics.feed,
    book: {
      forPoint: (p, now) => reading().forPoint(p, now),
      candidatesOf: (p, now) => reading().candidatesOf(p, now),
      generation: () => reading().generation(),
      maintenance: (endpoint, tags, now) => reading().maintenance(endpoint, tags, now),
      nodataFor: (s) => reading().nodataFor(s),
      nodataMetrics: () => [
        ...new Set(
          reading()
            .nodataRules()
            .map((r) => r.metric),
        ),
      ],
      nodeOf: (id) => reading().nodeOf(id),
    },
    // the series' keys held once, with the ingestion's (a judge of another server's points keeps its own)
    makeJudge: () => new Judge(config, { keptKey: (key) => w.metrics.ingest.keptKey(key) }),
    ingest: w.metrics.ingest,
    remain: config.remain,
    log: w.log,
    publish: (id) => void w.bus.publish(CHANNELS.alarms, id).catch((err: Error) => w.log(`alarms: ${err.message}`)),
  });
  loop.on('fenced', (why) => w.leadership.fenced(LOOPS.judge, why));
  const stopPoints = w.bus.subscribe(CHANNELS.points, { change: () => loop.wake(), resync: () => loop.wake() });
  const dropBook = (): void => {
    book?.close();
    book = undefined;
  };
  let leadingNow: Promise<void> = Promise.resolve();
  /** bumped on every gain and loss: a loss drops the book only if no gain came after it */
  let turns = 0;
  w.leadership.on('gained', (loopName, fence) => {
    if (loopName !== LOOPS.judge) return;
    turns++;
    leadingNow = (async () => {
      if (book === undefined) {
        const made = new StrategyBook({ store: w.store, bus: w.bus, instances: () => w.reports.instances() });
        book = made;
        try {
          await made.load();
        } catch (err) {
          if (book === made) dropBook();
          throw err;
        }
      }
      await loop.lead(w.alone ? undefined : fence);
    })().catch((err: Error) => w.log(`judge: taking the loop up failed: ${err.message}`));
  });
  w.leadership.on('lost', (loopName, why) => {
    if (loopName !== LOOPS.judge) return;
    const turn = ++turns;
    loop.follow(why);
    // the loop stops reading the book once halted; a new lead makes a fresh one
    void loop.stop().then(() => {
      if (turn === turns) dropBook();
    });
  });
  return {
    loop,
    book: () => book,
    leadingNow: () => leadingNow,
    async close() {
      stopPoints();
      await loop.stop();
      dropBook();
    },
  };
}
