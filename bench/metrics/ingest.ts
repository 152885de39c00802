/**
 * Points per second one server ingests into its store (issue 15): `take` then the batched
 * writes (series rows + raw points), as reports and pushes do, until every point is stored.
 *
 *   node --import tsx bench/metrics/ingest.ts [--db sqlite:/tmp/x.db | postgres://...] [--points 200000] [--series 10000]
 *
 * Each round gives one point of every series (a report's worth for a fleet), a step later.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { FalconPoint } from '../../src/api/index.js';
import { MetricsIngest } from '../../src/monitor/index.js';
import { openStore } from '../../src/store/open.js';

const { values } = parseArgs({
  options: { db: { type: 'string' }, points: { type: 'string', default: '200000' }, series: { type: 'string', default: '10000' } },
});
const total = Number(values.points);
const seriesCount = Number(values.series);
const dir = mkdtempSync(join(tmpdir(), 'noops-bench-metrics-'));
const url = values.db ?? `sqlite:${join(dir, 'noops.db')}`;
const store = await openStore(url);
const ingest = new MetricsIngest({ store });
const t0 = 1_700_000_000;
const started = performance.now();
let given = 0;
for (let round = 0; given < total; round++) {
  const points: FalconPoint[] = [];
  for (let s = 0; s < seriesCount && given < total; s++, given++)
    points.push({
      endpoint: `host-${s % 1000}`,
      metric: `bench.m${Math.floor(s / 1000)}`,
      timestamp: t0 + round * 60,
      step: 60,
      value: round,
      counterType: 'GAUGE',
      tags: 'app=bench',
    });
  ingest.take(points, { kind: 'push', by: 'bench' });
  await ingest.flush();
}
await ingest.close();
const seconds = (performance.now() - started) / 1000;
console.log(
  JSON.stringify({
    backend: store.kind,
    points: ingest.counters.stored,
    series: seriesCount,
    seconds: Number(seconds.toFixed(2)),
    pointsPerSecond: Math.round(ingest.counters.stored / seconds),
  }),
);
await store.close();
rmSync(dir, { recursive: true, force: true });
