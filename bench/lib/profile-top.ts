/**
 * Where a process's CPU went, phase by phase: reads the V8 CPU profiles in DIR (written with
 * NOOPS_BENCH_PROFILE=DIR) and DIR/phases.jsonl (bench/lib/phases.ts), and prints for each
 * phase the functions with the most self time in each profile that has samples in it, and the
 * longest stretches the process was busy without a pause (what held its event loop). With the
 * server's `desired-*.txt` (cpu-probe.mjs), each phase also says how many desired-state answers
 * the server finished in it and when the last one went.
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

/** When each desired-state answer finished (µs), from every server's desired-*.txt. */
const answers = readdirSync(dir)
  .filter((f) => /^desired-.*\.txt$/.test(f))
  .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map(Number))
  .sort((a, b) => a - b);
for (const ph of phases) {
  const inside = answers.filter((t) => t >= ph.startUs && t <= ph.endUs);
  if (inside.length === 0) continue;
  const last = ((inside.at(-1)! - ph.startUs) / 1000).toFixed(0);
  const half = ((inside[Math.floor(inside.length / 2)]! - ph.startUs) / 1000).toFixed(0);
  console.log(`== server · ${ph.name}: ${inside.length} desired-state answers finished, half by ${half} ms, the last at ${last} ms`);
}

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
    console.log('  -- longest busy stretches (no idle sample between), with their costliest function:');
    for (const b of busyStretches(stamped, byId, ph, where).slice(0, 5))
      console.log(`${b.ms.toFixed(0).padStart(8)} ms at +${b.atMs.toFixed(0)} ms  ${b.top}`);
    console.log('  -- inclusive, our code:');
    for (const [fn, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${fn}`);
  }
}

/** The stretches of samples in `ph` with no idle one between, longest first. */
function busyStretches(
  stamped: { id: number; t: number; dt: number }[],
  byId: Map<number, Node>,
  ph: { startUs: number; endUs: number },
  where: (n: Node) => string,
): { ms: number; atMs: number; top: string }[] {
  const out: { ms: number; atMs: number; top: string }[] = [];
  let start: number | undefined;
  let end = 0;
  let costs = new Map<string, number>();
  const close = () => {
    if (start === undefined) return;
    const top = [...costs].sort((a, b) => b[1] - a[1])[0];
    out.push({
      ms: (end - start) / 1000,
      atMs: (start - ph.startUs) / 1000,
      top: top ? `${top[0]} (${(top[1] / 1000).toFixed(0)} ms)` : '',
    });
    start = undefined;
    costs = new Map();
  };
  for (const s of stamped) {
    if (s.t < ph.startUs || s.t > ph.endUs) continue;
    const n = byId.get(s.id)!;
    if (n.callFrame.functionName === '(idle)') {
      close();
      continue;
    }
    start ??= s.t;
    end = s.t + s.dt;
    costs.set(where(n), (costs.get(where(n)) ?? 0) + s.dt);
  }
  close();
  return out.sort((a, b) => b.ms - a.ms);
}
