/**
 * The rollout's hooks for load balancers (rollout/hooks.ts): before a host switches, its running
 * release is drained from every pool that holds it; after it runs the new release healthily, the
 * marks are cleared and the hook waits (bounded) until the pools report the new members ready.
 *
 *   beforeStop(ctx): drain (ctx.host, ctx.tag, ctx.from) within ctx.drainTimeoutMs; a pool whose
 *     agent does not follow fails the host (the rollout then does not switch it)
 *   afterHealthy(ctx): clear (ctx.host, ctx.tag); wait until ctx.to is `ready` where it is held
 */
import { DEFAULT_DRAIN_TIMEOUT_MS } from '../api/index.js';
import type { HostHookContext, RolloutHooks } from '../rollout/index.js';
import type { Balancers } from './service.js';

/** See the file's comment. */
export class BalancerHooks implements RolloutHooks {
  constructor(private readonly balancers: Balancers) {}

  async beforeStop(ctx: HostHookContext): Promise<void> {
    if (ctx.from === null) return; // nothing of the tag runs there: nothing to drain
    await this.balancers.drain({
      host: ctx.host,
      tag: ctx.tag,
      version: ctx.from,
      timeoutMs: ctx.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
      reason: `${ctx.kind} #${ctx.deployment}`,
    });
  }

  async afterHealthy(ctx: HostHookContext): Promise<void> {
    if (ctx.to === null) return;
    await this.balancers.ready({
      host: ctx.host,
      tag: ctx.tag,
      version: ctx.to,
      timeoutMs: ctx.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    });
  }
}
