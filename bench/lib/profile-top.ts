/**
 * Where a process's CPU went, phase by phase: reads the V8 CPU profiles in DIR (written with
 * NOOPS_BENCH_PROFILE=DIR) and DIR/phases.jsonl (bench/lib/phases.ts), and prints for each
 * phase the functions with the most self time in each profile that has samples in it.
 *
 *   node --import tsx bench/lib/profile-top.ts DIR [TOP]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const dir = process.argv[2];
if (!dir) throw new Error('usage: profile-top.ts DIR [TOP]');
const top = Number(process.argv[3] ?? 25);
const phases = readFileSync(join(dir, 'phases.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { name: string; startUs: number; endUs: number });

for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const where = (n: Node): string => {
    const url = n.callFrame.url.replace(/^.*\/(src|dist|node_modules)\//, '$1/');
    return `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
  };
  let t = prof.startTime;
  const stamped = prof.samples.map((id, i) => {
    t += prof.timeDeltas[i] ?? 0;
    return { id, t, dt: prof.timeDeltas[i + 1] ?? 0 };
  });
  // and the whole file (the server's profiles from cpu-probe.mjs cover a minute each)
  const whole = { name: 'the whole profile', startUs: prof.startTime, endUs: t };
  for (const ph of [...phases, whole]) {
    const self = new Map<string, number>();
    const inclusive = new Map<string, number>();
    let total = 0;
    for (const s of stamped) {
      if (s.t < ph.startUs || s.t > ph.endUs) continue;
      const n = byId.get(s.id)!;
      if (n.callFrame.functionName === '(idle)') continue;
      self.set(where(n), (self.get(where(n)) ?? 0) + s.dt);
      total += s.dt;
      // inclusive time of our own code (src/ or dist/), each function once per sample
      const seen = new Set<string>();
      for (let id: number | undefined = s.id; id !== undefined; id = parent.get(id)) {
        const f = byId.get(id)!;
        if (!/\/(src|dist)\//.test(f.callFrame.url)) continue;
        const w = where(f);
        if (seen.has(w)) continue;
        seen.add(w);
        inclusive.set(w, (inclusive.get(w) ?? 0) + s.dt);
      }
    }
    if (total === 0) continue;
    const wall = (ph.endUs - ph.startUs) / 1000;
    console.log(`\n== ${file} · ${ph.name}: ${(total / 1000).toFixed(0)} ms of CPU in ${wall.toFixed(0)} ms`);
    for (const [fn, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${fn}`);
    console.log('  -- inclusive, our code:');
    for (const [fn, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${fn}`);
  }
}
