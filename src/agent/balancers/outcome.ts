/** What one driver's apply of one pool answers: the members the balancer holds, and what went wrong, if anything. */
import type { BalancerReport } from '../../api/index.js';

/** One member the balancer holds, as reported (BalancerReport's). */
export type HeldMember = BalancerReport['members'][number];

export interface PoolOutcome {
  /** every member the balancer holds after the apply */
  members: HeldMember[];
  /** set when a part of the apply failed (the rest was applied); the pool is reported `ok: false` */
  error?: string;
  /**
   * the apply stopped between two commands, told that a newer pool waits (the loop applies that
   * one at once): `members` says nothing, and nothing is reported
   */
  cut?: true;
}

/** What a driver answers when told to stop between two commands (PoolOutcome.cut). */
export const CUT: PoolOutcome = { members: [], cut: true };
