/**
 * Loaded into a benchmarked server with `--import bench/lib/cpu-probe.mjs` (bench only, never in
 * the product) when NOOPS_BENCH_PROFILE=DIR is set: V8's CPU profiler runs from the start, and a
 * profile of the last minute is written to DIR every minute (and at exit), instead of one at
 * exit only (`--cpu-prof`): a server swamped by 10,000 agents did not exit within any grace and
 * was killed before it wrote anything. bench/lib/profile-top.ts reads the files phase by phase.
 * Its cost: each minute's dump holds the server's event loop 200-320 ms at 10,000 agents (stopping
 * V8's profiler and taking its profile), which shows in a latency's tail (a heartbeat p99 of
 * 300-740 ms at 2,000/s in profiled runs): the goals' figures come from runs without it.
 * Beside each profile, `sql-PID-N.tsv`: every SQL statement the SQLite store ran in that minute
 * (the store's `noops:store:statement` channel), with its count, rows and milliseconds, costliest
 * first, with the longest single run (a statement that holds the event loop shows there): a
 * profile shows the time in SQLite, not which statement took it. And `http-PID-N.tsv`: the
 * responses the server finished in that minute by route (digits and hex ids as `N`, no query),
 * with their count, bytes (the socket's bytes written since its previous response) and the longest
 * time one spent in the server (from its headers to its answer's last byte handed to the socket);
 * `slow-PID-N.tsv`, every request but a long poll that spent over SLOW_MS there, with when. And
 * `desired-PID-N.txt`: when (µs, CLOCK_MONOTONIC as phases.jsonl) each desired-state answer
 * finished, one a line: profile-top.ts tells from them when the server had answered every agent
 * of a deploy, apart from when the simulated agents (on the same cores) saw it. And
 * `memory-PID-N.json`: `process.memoryUsage()` and V8's heap spaces when the minute ended (what of
 * the RSS is heap, live or not, and what is outside it).
 */
import { subscribe } from 'node:diagnostics_channel';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/** One file a minute: the fleet bench's phases last from seconds to minutes. */
const EVERY_MS = 60_000;
/** A request (not a long poll) that spent this long in the server is listed in `slow-PID-N.tsv`. */
const SLOW_MS = 100;

const dir = process.env.NOOPS_BENCH_PROFILE;
if (dir) {
  // a folder not made yet: the first minute's files would fail to be written, and the server with them
  mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  let n = 0;
  let sql = new Map();
  subscribe('noops:store:statement', (m) => {
    const s = sql.get(m.sql) ?? { count: 0, rows: 0, ms: 0, max: 0 };
    s.count++;
    s.rows += m.rows;
    s.ms += m.ms;
    s.max = Math.max(s.max, m.ms);
    sql.set(m.sql, s);
  });
  let http = new Map();
  let desired = [];
  let slow = [];
  const written = new WeakMap();
  const began = new WeakMap();
  subscribe('http.server.request.start', ({ request }) => began.set(request, process.hrtime.bigint()));
  subscribe('http.server.response.finish', ({ request, response, socket }) => {
    const now = process.hrtime.bigint();
    const inServerMs = began.has(request) ? Number(now - began.get(request)) / 1e6 : 0;
    if (response.statusCode === 200 && request.url?.includes('/agent/desired')) desired.push(process.hrtime.bigint() / 1000n);
    const route = `${request.method} ${(request.url ?? '').split('?')[0].replace(/[0-9a-f]{6,}|\d+/g, 'N')}`;
    const before = written.get(socket) ?? 0;
    written.set(socket, socket.bytesWritten);
    const h = http.get(route) ?? { count: 0, bytes: 0, max: 0 };
    h.count++;
    h.bytes += socket.bytesWritten - before;
    h.max = Math.max(h.max, inServerMs);
    if (inServerMs >= SLOW_MS && !route.includes('/agent/desired')) slow.push(`${now / 1000n}\t${inServerMs.toFixed(1)}\t${route}`);
    http.set(route, h);
  });
  const start = () => session.post('Profiler.start');
  const dump = () => {
    const name = `${process.pid}-${String(n++).padStart(3, '0')}`;
    const lines = [...sql]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([q, s]) => `${s.ms.toFixed(1)}\t${s.max.toFixed(1)}\t${s.count}\t${s.rows}\t${q.replace(/\s+/g, ' ')}`);
    writeFileSync(join(dir, `sql-${name}.tsv`), `ms\tmax ms\tcount\trows\tsql\n${lines.join('\n')}\n`);
    sql = new Map();
    const routes = [...http].sort((a, b) => b[1].bytes - a[1].bytes).map(([r, h]) => `${h.bytes}\t${h.count}\t${h.max.toFixed(1)}\t${r}`);
    writeFileSync(join(dir, `http-${name}.tsv`), `bytes\tcount\tmax ms in the server\troute\n${routes.join('\n')}\n`);
    writeFileSync(join(dir, `slow-${name}.tsv`), `finished µs\tms in the server\troute\n${slow.join('\n')}\n`);
    slow = [];
    http = new Map();
    writeFileSync(
      join(dir, `memory-${name}.json`),
      JSON.stringify({ usage: process.memoryUsage(), heap: getHeapStatistics(), spaces: getHeapSpaceStatistics() }, null, 1),
    );
    writeFileSync(join(dir, `desired-${name}.txt`), desired.length ? `${desired.join('\n')}\n` : '');
    desired = [];
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `server-${name}.cpuprofile`), JSON.stringify(res.profile));
      start();
    });
  };
  session.post('Profiler.enable', () => start()); // the default 1 ms interval, as --cpu-prof
  setInterval(dump, EVERY_MS).unref();
  process.on('exit', dump);
}
