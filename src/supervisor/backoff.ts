/**
 * The restart policy, as a pure function: given how a process died, when to start it again.
 * The Supervisor only executes what this decides.
 */

/** What the policy needs to know about a death. */
export interface Death {
  /** the state it died in: `starting` (never came up) or `up` */
  state: 'starting' | 'up';
  /** how long it had been `up` (ms), or null when it never came up */
  upForMs: number | null;
  /** the delay this death would get if nothing resets it */
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

/** The policy's tunables (see the defaults in types.ts). */
export interface BackoffPolicy {
  backoffBaseMs: number;
  backoffMaxMs: number;
  stableMs: number;
}

/**
 * Exponential backoff, reset by a stable run: base, 2x base, 4x base, ... capped at max; a
 * process that was `up` for `stableMs` starts over at base.
 *
 * @example
 *   planRestart({ state: 'starting', upForMs: null, nextBackoffMs: 1000, failedStarts: 0 },
 *               { backoffBaseMs: 1000, backoffMaxMs: 30000, stableMs: 60000 })
 *   // { delayMs: 1000, nextBackoffMs: 2000, failedStarts: 1 }
 */
export function planRestart(death: Death, policy: BackoffPolicy): RestartPlan {
  const stable = death.upForMs !== null && death.upForMs >= policy.stableMs;
  const delayMs = Math.min(stable ? policy.backoffBaseMs : death.nextBackoffMs, policy.backoffMaxMs);
  return {
    delayMs,
    nextBackoffMs: Math.min(delayMs * 2, policy.backoffMaxMs),
    failedStarts: death.state === 'starting' ? death.failedStarts + 1 : 0,
  };
}
