/**
 * What the live view shows and offers for a deployment, decided without I/O: how far it has come
 * (from its summary's hosts per state) and the actions the server will accept now. Its hosts are
 * read a page at a time (pages/deploy-hosts.ts).
 */
import type { DeploymentAction, DeploymentView, RolloutProgress, StateCounts } from '../api/index.js';

/** What the controls read of a deployment: its whole view or its summary both have it. */
export interface DeploymentWhere {
  status: DeploymentView['status'];
  progress: (Pick<RolloutProgress, 'phase' | 'paused' | 'abort' | 'batch'> & { batches: readonly unknown[] }) | null;
}
/** Host states that count as done well, and as gone wrong, for the progress bar. */
const GOOD = new Set(['succeeded']);
const BAD = new Set(['failed', 'reverting', 'reverted', 'stopped']);

/** How far it has come, from a summary's hosts per state: hosts done, gone wrong, still to go. */
export function tallyOf(states: StateCounts, total: number): { done: number; bad: number; rest: number; total: number } {
  let done = 0;
  let bad = 0;
  for (const [state, n] of Object.entries(states)) {
    if (GOOD.has(state)) done += n;
    else if (BAD.has(state)) bad += n;
  }
  return { done, bad, rest: total - done - bad, total };
}

/**
 * The commands the server accepts for the deployment now (the rules of rollout/progress-updates.ts):
 * none once it has ended; pause unless paused or going back; resume when paused; promote at a
 * canary; abort unless going back already.
 *
 * @example
 *   actionsFor(d) // ['pause', 'promote', 'abort'] at a canary
 */
export function actionsFor(d: DeploymentWhere): DeploymentAction[] {
  const p = d.progress;
  if (d.status !== 'running' || !p || p.phase === 'done') return [];
  const out: DeploymentAction[] = [];
  if (p.paused) out.push('resume');
  else if (p.phase !== 'reverting') out.push('pause');
  if (p.phase === 'canary') out.push('promote');
  if (p.phase !== 'reverting' && !p.abort) out.push('abort');
  return out;
}

/** Where the deployment is, in words: "batch 1 of 2 · canary, waiting for promote". */
export function whereWords(d: DeploymentWhere): string {
  const p = d.progress;
  if (!p) return '';
  const batch = p.batch >= 0 ? `batch ${Math.min(p.batch + 1, p.batches.length)} of ${p.batches.length}` : `${p.batches.length} batches`;
  const phase: Record<string, string> = {
    deploying: 'deploying',
    testing: 'running the deploy tests',
    waiting: 'waiting before the next batch',
    canary: 'canary: waiting for promote',
    reverting: 'going back to the previous release',
    done: 'done',
  };
  return `${batch} · ${phase[p.phase] ?? p.phase}${p.paused ? ' · paused' : ''}${p.abort ? ` · abort requested by ${p.abort.by}` : ''}`;
}
