/**
 * Loaded into a benchmarked server with `--import bench/lib/cpu-probe.mjs` (bench only, never in
 * the product) when NOOPS_BENCH_PROFILE=DIR is set: V8's CPU profiler runs from the start, and a
 * profile of the last minute is written to DIR every minute (and at exit), instead of one at
 * exit only (`--cpu-prof`): a server swamped by 10,000 agents did not exit within any grace and
 * was killed before it wrote anything. bench/lib/profile-top.ts reads the files phase by phase.
 * Beside each profile, `sql-PID-N.tsv`: every SQL statement the SQLite store ran in that minute
 * (the store's `noops:store:statement` channel), with its count, rows and milliseconds, costliest
 * first: a profile shows the time in SQLite, not which statement took it.
 */
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

/** One file a minute: the fleet bench's phases last from seconds to minutes. */
const EVERY_MS = 60_000;

const dir = process.env.NOOPS_BENCH_PROFILE;
if (dir) {
  const session = new Session();
  session.connect();
  let n = 0;
  let sql = new Map();
  subscribe('noops:store:statement', (m) => {
    const s = sql.get(m.sql) ?? { count: 0, rows: 0, ms: 0 };
    s.count++;
    s.rows += m.rows;
    s.ms += m.ms;
    sql.set(m.sql, s);
  });
  const start = () => session.post('Profiler.start');
  const dump = () => {
    const name = `${process.pid}-${String(n++).padStart(3, '0')}`;
    const lines = [...sql].sort((a, b) => b[1].ms - a[1].ms).map(([q, s]) => `${s.ms.toFixed(1)}\t${s.count}\t${s.rows}\t${q.replace(/\s+/g, ' ')}`);
    writeFileSync(join(dir, `sql-${name}.tsv`), `ms\tcount\trows\tsql\n${lines.join('\n')}\n`);
    sql = new Map();
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `server-${name}.cpuprofile`), JSON.stringify(res.profile));
      start();
    });
  };
  session.post('Profiler.enable', () => start()); // the default 1 ms interval, as --cpu-prof
  setInterval(dump, EVERY_MS).unref();
  process.on('exit', dump);
}
