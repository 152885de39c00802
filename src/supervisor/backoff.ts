/**
 * The backoff, as a pure function: given how a process died, how long to wait before starting
 * it again. The Supervisor only executes what this decides.
 */

/** What the backoff needs to know about a death. */
export interface Death {
  /** the state it died in: `starting` (never came up) or `up` */
  state: 'starting' | 'up';
  /** how long it had been `up` (ms), or null when it never came up */
  upForMs: number | null;
  /** the delay this death gets if nothing resets it (0: at once) */
  nextBackoffMs: number;
  /** consecutive deaths before `up`, before this one */
  failedStarts: number;
}

/** The decision: wait `delayMs`, then restart; remember the rest for the next death. */
export interface RestartPlan {
  delayMs: number;
  nextBackoffMs: number;
  failedStarts: number;
}

/** The backoff's tunables (see the defaults in types.ts). */
export interface BackoffPolicy {
  backoffBaseMs: number;
  backoffMaxMs: number;
  stableMs: number;
}

/**
 * Exponential backoff, reset by a stable run: the first death restarts at once (a one-off
 * crash costs nothing), then base, 2x base, 4x base, ... capped at max; a process that was `up`
 * for `stableMs` starts over at once.
 *
 * @example
 *   planRestart({ state: 'starting', upForMs: null, nextBackoffMs: 0, failedStarts: 0 },
 *               { backoffBaseMs: 1000, backoffMaxMs: 30000, stableMs: 60000 })
 *   // { delayMs: 0, nextBackoffMs: 1000, failedStarts: 1 }
 */
export function planRestart(death: Death, policy: BackoffPolicy): RestartPlan {
  const stable = death.upForMs !== null && death.upForMs >= policy.stableMs;
  const delayMs = stable ? 0 : Math.min(death.nextBackoffMs, policy.backoffMaxMs);
  return {
    delayMs,
    nextBackoffMs: delayMs === 0 ? Math.min(policy.backoffBaseMs, policy.backoffMaxMs) : Math.min(delayMs * 2, policy.backoffMaxMs),
    failedStarts: death.state === 'starting' ? death.failedStarts + 1 : 0,
  };
}
