/**
 * What to do when a process ends by itself or a condition asks for a restart, as pure
 * functions over plain data: the restart policy, the backoff and god's flapping rule. The
 * Supervisor keeps a RestartBook per process and executes the decisions.
 */
import { planRestart, type BackoffPolicy } from './backoff.js';
import type { FlappingPolicy, RestartPolicy } from './types.js';

/** What a process's past restarts tell the policy; starts empty (see freshBook). */
export interface RestartBook {
  /** the delay the next death gets (0: at once) */
  nextBackoffMs: number;
  /** consecutive deaths before `up` */
  failedStarts: number;
  /** when the recent restarts happened (ms), oldest first; only those within the flapping window */
  restartsAt: number[];
  /** when the recent flaps happened (ms), oldest first; only those within the retry window */
  flapsAt: number[];
}

/** The book of a process that has just been started (by a deploy or by hand). */
export function freshBook(): RestartBook {
  return { nextBackoffMs: 0, failedStarts: 0, restartsAt: [], flapsAt: [] };
}

/** How a process ended. */
export interface EndFacts {
  state: 'starting' | 'up';
  upForMs: number | null;
  /** null when unknown (an adopted process) or killed by a signal */
  code: number | null;
  signal: string | null;
  now: number;
}

/** A decision about a process that ended or must be restarted. */
export type Decision =
  | { action: 'restart'; delayMs: number }
  | { action: 'exit'; why: string }
  | { action: 'flap'; retryInMs: number; flaps: number }
  | { action: 'give-up'; flaps: number };

export interface Policy extends BackoffPolicy {
  restart: RestartPolicy;
  flapping: FlappingPolicy | null;
}

/**
 * A process ended by itself: restart it (after its backoff), let it be (its restart policy),
 * or call it flapping.
 *
 * @example
 *   decideEnd({ state: 'up', upForMs: 5, code: 0, signal: null, now: 0 }, freshBook(), { ...policy, restart: 'on-failure' })
 *   // { decision: { action: 'exit', why: 'restart policy on-failure: it exited with code 0' }, book: ... }
 */
export function decideEnd(facts: EndFacts, book: RestartBook, policy: Policy): { decision: Decision; book: RestartBook } {
  const plan = planRestart(
    { state: facts.state, upForMs: facts.upForMs, nextBackoffMs: book.nextBackoffMs, failedStarts: book.failedStarts },
    policy,
  );
  const next: RestartBook = { ...book, nextBackoffMs: plan.nextBackoffMs, failedStarts: plan.failedStarts };
  if (policy.restart === 'never') return { decision: { action: 'exit', why: 'restart policy never' }, book: next };
  if (policy.restart === 'on-failure' && facts.code === 0 && facts.signal === null) {
    return { decision: { action: 'exit', why: 'restart policy on-failure: it exited with code 0' }, book: next };
  }
  return countRestart(next, facts.now, policy.flapping, plan.delayMs);
}

/** A condition asks for a restart: restart at once, unless that makes the process flapping. */
export function decideConditionRestart(
  book: RestartBook,
  now: number,
  flapping: FlappingPolicy | null,
): { decision: Decision; book: RestartBook } {
  return countRestart(book, now, flapping, 0);
}

/** Counts one more restart; too many within the window is a flap, too many flaps is giving up. */
function countRestart(
  book: RestartBook,
  now: number,
  flapping: FlappingPolicy | null,
  delayMs: number,
): { decision: Decision; book: RestartBook } {
  if (flapping === null) return { decision: { action: 'restart', delayMs }, book };
  const restartsAt = [...book.restartsAt.filter((t) => now - t < flapping.withinMs), now];
  if (restartsAt.length < flapping.times) return { decision: { action: 'restart', delayMs }, book: { ...book, restartsAt } };
  const flapsAt = [...book.flapsAt.filter((t) => now - t < flapping.retryWithinMs), now];
  // After a pause the process starts afresh: no backoff, an empty restart window.
  const after: RestartBook = { ...book, nextBackoffMs: 0, restartsAt: [], flapsAt };
  if (flapsAt.length > flapping.retryTimes) return { decision: { action: 'give-up', flaps: flapsAt.length }, book: after };
  return { decision: { action: 'flap', retryInMs: flapping.retryInMs, flaps: flapsAt.length }, book: after };
}

/**
 * A flap or a give-up, in words, for the process's reason and its event.
 *
 * @example decisionWords({ action: 'flap', retryInMs: 300000, flaps: 1 }, DEFAULT_FLAPPING, 'exited with code 1')
 *   // 'restarted 5 times within 120 s (last: exited with code 1); retry in 300 s'
 */
export function decisionWords(d: Extract<Decision, { action: 'flap' | 'give-up' }>, f: FlappingPolicy, reason: string): string {
  if (d.action === 'flap')
    return `restarted ${f.times} times within ${f.withinMs / 1000} s (last: ${reason}); retry in ${d.retryInMs / 1000} s`;
  return `given up: flapping ${d.flaps} times within ${f.retryWithinMs / 1000} s (last: ${reason}); start it by hand`;
}
