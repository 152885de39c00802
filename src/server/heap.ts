/**
 * V8's heap, set for a server that holds a fleet's parked polls (issue 19, docs/benchmarks.md
 * "Joining 10,000 agents, and the server's memory").
 *
 * After each full garbage collection V8 lets the old generation grow to a factor of what survived
 * before it collects again; on a machine with a few GB that factor goes up to 4. A server holding
 * 10,000 parked polls keeps about 120 MB alive, and each poll and report lives long enough (up to
 * the 25 s long poll) to die in the old generation: at 4,000 agents the heap held 242 MB of which
 * 84 MB were alive (before issue 19's cheaper parked poll), and that garbage is RSS. Set at run
 * time: V8 reads it at each collection.
 */
import { setFlagsFromString } from 'node:v8';

/**
 * The old generation grows by at most this share of what survived the last full collection
 * before the next one. 50, measured with bench/fleet/join-only.ts at 4,000 agents (load 25 to 40):
 * before a forced collection the heap held 107 MB for 71 MB alive, against 158 MB for 74 without
 * it; RSS 226 MB against 264 MB; 0.36 ms of server CPU per report against 0.41 (within the noise
 * at that load). 25 cost a micro benchmark of promoted garbage twice the CPU 50 cost (+36% against +18%).
 */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Applies the server's heap settings to this process (the server's; in-process tests get them too,
 * harmlessly), unless node was given its own (`node --heap-growing-percent=N`, or in NODE_OPTIONS):
 * an operator's setting wins. Answers whether it set it.
 */
export function tuneHeap(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a));
  if (given) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
