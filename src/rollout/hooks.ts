/**
 * The points of a rollout where other systems step in, per host: before its running release
 * is stopped (drain it from load balancers and naming), and after it runs a release healthily
 * (add it back). src/balance/hooks.ts implements them for load-balancer pools.
 */

export interface HostHookContext {
  deployment: number;
  /** canonical cluster tag */
  tag: string;
  host: string;
  /** the release it runs now (null: none) */
  from: string | null;
  /** the release it goes to (null: none: the tag is removed from the host) */
  to: string | null;
  /**
   * `deploy`, `rollback` or `undeploy` (the deployment's kind; an undeploy's `to` is null), or
   * `revert`: a failed deployment sends it back
   */
  kind: 'deploy' | 'rollback' | 'undeploy' | 'revert';
  /**
   * How long a drain waits for the host's connections to end (ms): noops.yaml's `drain_timeout`
   * (of the release it drains), else the cluster's policy `drain_timeout`, else
   * DEFAULT_DRAIN_TIMEOUT_MS. Absent when the caller does not say (the hook takes the default).
   */
  drainTimeoutMs?: number;
}

export interface RolloutHooks {
  /**
   * Before the host is told to switch. Throwing fails the host in a deploy (the host is not
   * switched); in a revert it is logged and the host goes back all the same.
   */
  beforeStop?(ctx: HostHookContext): Promise<void>;
  /** After the host runs `ctx.to` healthily. Throwing is logged in the deployment. */
  afterHealthy?(ctx: HostHookContext): Promise<void>;
}
