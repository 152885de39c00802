/**
 * Phases of a benchmark run marked on the monotonic clock, for reading CPU profiles by phase.
 * With NOOPS_BENCH_PROFILE=DIR (the server and the workers write V8 CPU profiles there), each
 * mark is a line of DIR/phases.jsonl: `{ name, startUs, endUs }` in µs of CLOCK_MONOTONIC, the
 * clock V8's profiles count in. `node --import tsx bench/lib/profile-top.ts DIR` prints, per
 * phase, where the server's CPU went.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

/** Now on the monotonic clock, in µs (what a .cpuprofile's startTime and timeDeltas count). */
export function monoUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Marks a phase that began at `startUs` (monoUs) and ends now, when profiles are being written. */
export function markPhase(name: string, startUs: number): void {
  const dir = process.env.NOOPS_BENCH_PROFILE;
  if (!dir) return;
  appendFileSync(join(dir, 'phases.jsonl'), `${JSON.stringify({ name, startUs, endUs: monoUs() })}\n`);
}
