/**
 * One judge scenario in a fresh process (so its memory is its own), run by bench/judge/index.ts:
 *
 *   node --expose-gc --import tsx bench/judge/worker.ts '{"series":1000000,"strategies":10000,"rulesPerPoint":1,"rounds":12}'
 *
 * The fleet: `series / METRICS` hosts, each in one of `clusters` clusters, each with METRICS
 * gauge metrics; `strategies` tag-bound strategies, `rulesPerPoint` of them for each metric and
 * cluster (Falcon's functions in turn), so every point meets `rulesPerPoint` rules. The
 * candidates of a series come from a lookup by metric and cluster (the strategies' resolver),
 * asked once per series and kept, as the judge loop does; the judge checks their relevance
 * itself. Values are CPU-like (0-100) with a threshold that about 3 % of points cross, so events
 * are sent (PROBLEM, repeats, OK).
 *
 * The points come as the feed gives them to the judge loop: batches of BATCH fresh objects of
 * the feed's shape with fresh strings (as the store's driver makes rows), each judged by the
 * loop's own per-point path (alarms `judgeBatch`); only that call is timed.
 *
 * Prints one JSON line: memory after the first round (every series created), then the
 * throughput of `rounds` more rounds with store series ids (`withIds`: what both stores' feeds
 * give, since 0024_series_ids on PostgreSQL), and of a quarter as many without (`withKeys`: a
 * point without an id, e.g. one whose id is past the judge's array), by wall clock and by CPU time.
 */
import { type GenerationalBook, judgeBatch, SeriesCandidates } from '../../src/monitor/alarms/index.js';
import { type FeedPoint, Judge, type JudgeEvent, type JudgeStrategy } from '../../src/monitor/index.js';

interface Args {
  series: number;
  strategies: number;
  rulesPerPoint: number;
  rounds: number;
}

const METRICS = 100;
/** Points per batch, as the judge loop reads them (alarms/judge-loop.ts BATCH_POINTS). */
const BATCH = 5000;
const FUNCS = [
  'all(#3)',
  'max(#3)',
  'avg(#5)',
  'diff(#3)',
  'lookup(#2,3)',
  'sum(#3)',
  'pdiff(#3)',
  'min(#3)',
  'stddev(#10)',
  'kdiff(#2,2)',
];
const OPS = ['>', '>', '>', '>', '>', '>', '>', '<', '==', '>'];
const RIGHTS = [97, 97, 90, 60, 97, 290, 200, 1, 3, 50];

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) for (let i = 0; i < 3; i++) g();
}

function heapBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function main(): void {
  const args = JSON.parse(process.argv[2] ?? '{}') as Args;
  const hosts = Math.ceil(args.series / METRICS);
  const clusters = Math.max(1, Math.round(args.strategies / (METRICS * args.rulesPerPoint)));
  const metrics = Array.from({ length: METRICS }, (_, i) => `bench.metric${i}`);
  const endpoints = Array.from({ length: hosts }, (_, h) => `host${h}.bench.example`);
  const tags = Array.from({ length: clusters }, (_, c) => `cluster=c${c},cop=bench,owt=ops,service=api`);
  // candidates by metric and cluster: rulesPerPoint strategies each
  const book: JudgeStrategy[][] = [];
  let n = 0;
  for (let m = 0; m < METRICS; m++) {
    for (let c = 0; c < clusters; c++) {
      const list: JudgeStrategy[] = [];
      for (let r = 0; r < args.rulesPerPoint; r++, n++) {
        const f = n % FUNCS.length;
        list.push({
          id: String(n),
          metric: metrics[m]!,
          tags: { cop: 'bench', cluster: `c${c}` },
          func: FUNCS[f]!,
          op: OPS[f]!,
          right: RIGHTS[f]!,
          maxStep: 3,
          priority: 2,
        });
      }
      book.push(list);
    }
  }
  const byCell = new Map<string, readonly JudgeStrategy[]>();
  for (let m = 0; m < METRICS; m++) for (let c = 0; c < clusters; c++) byCell.set(`${metrics[m]}|${tags[c]}`, book[m * clusters + c]!);
  // the strategies' resolver as the loop asks it: once per series, the answer holding after
  const resolver: GenerationalBook = {
    forPoint: (p) => byCell.get(`${p.metric}|${p.tags}`)!,
    candidatesOf: (p) => ({ strategies: byCell.get(`${p.metric}|${p.tags}`)!, holds: true }),
    generation: () => 0,
  };
  // values drawn in advance (the feed's cost is not the judge's): mostly 0-90, 3 % spikes to 90-100
  const VALUES = new Float64Array(1 << 16);
  let seed = 12345;
  for (let i = 0; i < VALUES.length; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    const r = seed / 0x7fffffff;
    VALUES[i] = r < 0.97 ? r * 90 : 90 + (r - 0.97) * 333;
  }
  let drawn = 0;
  const value = (): number => VALUES[drawn++ & 0xffff]!;
  const keyOf = (s: number): string => {
    const h = (s / METRICS) | 0;
    return `${endpoints[h]}/${metrics[s % METRICS]}/${tags[h % clusters]}`;
  };
  gc();
  const before = heapBytes();
  const rssBefore = process.memoryUsage().rss;
  const judge = new Judge({ remain: 11, minInterval: 300 }, { expectedSeries: args.series });
  const kept = new SeriesCandidates();
  const T0 = 1_700_000_000;
  let events = 0;
  let nowMs = T0 * 1000;
  const clock = (): number => nowMs;
  const sent: JudgeEvent[] = [];
  // round 0: every series created, met first by its store id and key as the loop meets it
  for (let from = 0; from < args.series; from += BATCH) {
    const batch: FeedPoint[] = [];
    for (let s = from; s < Math.min(from + BATCH, args.series); s++) {
      const h = (s / METRICS) | 0;
      batch.push(feedPoint(s, keyOf(s), endpoints[h]!, metrics[s % METRICS]!, tags[h % clusters]!, T0, value(), true));
    }
    judgeBatch(judge, resolver, batch, kept, clock, sent);
    events += sent.length;
    sent.length = 0;
  }
  gc();
  const judgeBytes = heapBytes() - before;
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  // the feed's strings, as the store's driver makes them: a fresh flat string per column and row,
  // copied out of bytes (here one buffer per column; endpoint, metric and tags by series)
  const column = (text: (s: number) => string): { bytes: Buffer; at: Int32Array } => {
    const parts = Array.from({ length: args.series }, (_, s) => Buffer.from(text(s), 'latin1'));
    const at = new Int32Array(args.series + 1);
    for (let s = 0; s < args.series; s++) at[s + 1] = at[s]! + parts[s]!.length;
    return { bytes: Buffer.concat(parts), at };
  };
  const keyColumn = column(keyOf);
  const endpointColumn = column((s) => endpoints[(s / METRICS) | 0]!);
  const metricColumn = column((s) => metrics[s % METRICS]!);
  const tagsColumn = column((s) => tags[((s / METRICS) | 0) % clusters]!);
  const fresh = (c: { bytes: Buffer; at: Int32Array }, s: number): string => c.bytes.toString('latin1', c.at[s]!, c.at[s + 1]!);
  /**
   * Rounds of every series in the feed's batches: each batch made first (fresh point objects and
   * strings, as the store's rows arrive: not timed), then judged by the loop's own path
   * (`judgeBatch`: timed, CPU and clock). `withIds`: the points carry their store series id.
   */
  const timed = (withIds: boolean, rounds: number, from: number): { pointsPerS: number; pointsPerCpuS: number; events: number } => {
    let sentCount = 0;
    let cpuMicros = 0;
    let wallNs = 0n;
    for (let r = 0; r < rounds; r++) {
      const ts = T0 + 60 * (from + r);
      nowMs = ts * 1000;
      for (let first = 0; first < args.series; first += BATCH) {
        const batch: FeedPoint[] = [];
        const end = Math.min(first + BATCH, args.series);
        for (let s = first; s < end; s++) {
          batch.push(
            feedPoint(s, fresh(keyColumn, s), fresh(endpointColumn, s), fresh(metricColumn, s), fresh(tagsColumn, s), ts, value(), withIds),
          );
        }
        const cpu0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        judgeBatch(judge, resolver, batch, kept, clock, sent);
        wallNs += process.hrtime.bigint() - t0;
        const cpu = process.cpuUsage(cpu0);
        cpuMicros += cpu.user + cpu.system;
        sentCount += sent.length;
        sent.length = 0;
      }
    }
    const points = rounds * args.series;
    return {
      pointsPerS: Math.round(points / (Number(wallNs) / 1e9)),
      pointsPerCpuS: Math.round(points / (cpuMicros / 1e6)),
      events: sentCount,
    };
  };
  // warm up (the code optimized, the rings filling), then measure
  timed(true, 2, 1);
  const withIds = timed(true, args.rounds, 3);
  const withKeys = timed(false, Math.max(1, args.rounds >> 2), 3 + args.rounds);
  process.stdout.write(
    `${JSON.stringify({
      ...args,
      clusters,
      judgeBytes,
      judgeBytesPerSeries: Math.round(judgeBytes / args.series),
      slabBytes: judge.slabBytes(),
      rssGrowthBytes: rssGrowth,
      withIds,
      withKeys,
      firstRoundEvents: events,
      lastEvents: judge.lastEvents,
    })}\n`,
  );
}

/** A point as the feed gives it (metrics/feed.ts feedPoint: the same fields in the same order); series `s` has store id s + 1. */
function feedPoint(
  s: number,
  key: string,
  endpoint: string,
  metric: string,
  tags: string,
  timestamp: number,
  value: number,
  withId: boolean,
): FeedPoint {
  return {
    id: 0,
    key,
    endpoint,
    metric,
    tags,
    counterType: 'GAUGE',
    step: 60,
    timestamp,
    value,
    receivedAt: 0,
    seriesId: withId ? s + 1 : undefined,
  };
}

main();
