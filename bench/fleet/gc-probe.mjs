/**
 * Loaded into a benchmarked server with `--expose-gc --import bench/fleet/gc-probe.mjs` (bench only,
 * never in the product): on SIGWINCH the server collects all garbage (two full GCs) and writes
 * what it then holds to `$NOOPS_BENCH_GC_OUT` as one JSON line: process.memoryUsage() (rss,
 * heapTotal, heapUsed, external, arrayBuffers), V8's heap statistics, and the RSS before the GC.
 * What stays after a forced GC is retained; what went was garbage not yet collected.
 */
import { appendFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

const out = process.env.NOOPS_BENCH_GC_OUT;
process.on('SIGWINCH', () => {
  const before = process.memoryUsage();
  globalThis.gc?.();
  globalThis.gc?.();
  const after = process.memoryUsage();
  const h = getHeapStatistics();
  if (out)
    appendFileSync(
      out,
      `${JSON.stringify({ before, after, heap: { total: h.total_heap_size, used: h.used_heap_size, malloced: h.malloced_memory, external: h.external_memory } })}\n`,
    );
});
