/**
 * One judge scenario in a fresh process (so its memory is its own), run by bench/judge/index.ts:
 *
 *   node --expose-gc --import tsx bench/judge/worker.ts '{"series":1000000,"strategies":10000,"rulesPerPoint":1,"rounds":12}'
 *
 * The fleet: `series / METRICS` hosts, each in one of `clusters` clusters, each with METRICS
 * gauge metrics; `strategies` tag-bound strategies, `rulesPerPoint` of them for each metric and
 * cluster (Falcon's functions in turn), so every point meets `rulesPerPoint` rules. The
 * candidates of a point are looked up per metric and cluster (what the strategies' resolver
 * caches); the judge checks their relevance itself. Values are CPU-like (0-100) with a
 * threshold that about 3 % of points cross, so events are sent (PROBLEM, repeats, OK).
 *
 * Prints one JSON line: memory after the first round (every series created), then the
 * throughput of `rounds` more rounds, by wall clock and by CPU time.
 */
import { Judge, type JudgePoint, type JudgeStrategy } from '../../src/monitor/index.js';

interface Args {
  series: number;
  strategies: number;
  rulesPerPoint: number;
  rounds: number;
}

const METRICS = 100;
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
  const point: JudgePoint = { endpoint: '', metric: '', tags: '', counterType: 'GAUGE', timestamp: 0, value: 0 };
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
  gc();
  const before = heapBytes();
  const rssBefore = process.memoryUsage().rss;
  const judge = new Judge({ remain: 11, minInterval: 300 }, { expectedSeries: args.series });
  const T0 = 1_700_000_000;
  let events = 0;
  // round 0: every series created (its key built here and kept by the judge alone)
  for (let s = 0; s < args.series; s++) {
    const h = (s / METRICS) | 0;
    const m = s % METRICS;
    point.endpoint = endpoints[h]!;
    point.metric = metrics[m]!;
    point.tags = tags[h % clusters]!;
    point.timestamp = T0;
    point.value = value();
    events += judge.push(point, T0, book[m * clusters + (h % clusters)]!).length;
  }
  gc();
  const judgeBytes = heapBytes() - before;
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  // the feed's keys (the history part gives each point its series key), flat strings as the
  // store's driver gives them (a key built by concatenation is a tree of pieces, compared piece
  // by piece by every Map lookup: a cost of the bench's making, not the judge loop's)
  const keys: string[] = new Array(args.series);
  for (let s = 0; s < args.series; s++) {
    const h = (s / METRICS) | 0;
    keys[s] = JSON.parse(JSON.stringify(`${endpoints[h]}/${metrics[s % METRICS]}/${tags[h % clusters]}`)) as string;
  }
  const timed = (withKeys: boolean, rounds: number, from: number): { pointsPerS: number; pointsPerCpuS: number; events: number } => {
    let sent = 0;
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let r = 0; r < rounds; r++) {
      const ts = T0 + 60 * (from + r);
      for (let s = 0; s < args.series; s++) {
        const h = (s / METRICS) | 0;
        const m = s % METRICS;
        point.endpoint = endpoints[h]!;
        point.metric = metrics[m]!;
        point.tags = tags[h % clusters]!;
        point.timestamp = ts;
        point.value = value();
        sent += judge.push(point, ts, book[m * clusters + (h % clusters)]!, withKeys ? keys[s] : undefined).length;
      }
    }
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const points = rounds * args.series;
    return { pointsPerS: Math.round(points / wall), pointsPerCpuS: Math.round(points / ((cpu.user + cpu.system) / 1e6)), events: sent };
  };
  // warm up (the code optimized, the rings filling), then measure
  timed(true, 2, 1);
  const withKeys = timed(true, args.rounds, 3);
  const withoutKeys = timed(false, Math.max(1, args.rounds >> 2), 3 + args.rounds);
  process.stdout.write(
    `${JSON.stringify({
      ...args,
      clusters,
      judgeBytes,
      judgeBytesPerSeries: Math.round(judgeBytes / args.series),
      slabBytes: judge.slabBytes(),
      rssGrowthBytes: rssGrowth,
      withKeys,
      withoutKeys,
      firstRoundEvents: events,
      lastEvents: judge.lastEvents,
    })}\n`,
  );
}

main();
