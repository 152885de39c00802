/** What one driver's apply of one pool answers: the members the balancer holds, and what went wrong, if anything. */
import type { BalancerReport } from '../../api/index.js';

/** One member the balancer holds, as reported (BalancerReport's). */
export type HeldMember = BalancerReport['members'][number];

export interface PoolOutcome {
  /** every member the balancer holds after the apply */
  members: HeldMember[];
  /** set when a part of the apply failed (the rest was applied); the pool is reported `ok: false` */
  error?: string;
}
