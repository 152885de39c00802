/**
 * The rollout controller among the servers of one database (issue 14; docs/servers.md, "One
 * leader per control loop"): it steps deployments while this server holds the `rollout` lease,
 * and follows otherwise; what it writes and the commands it passes on travel on the bus.
 *
 *   Leadership gained ──> rollout.lead(fence)        rollout 'written' ──> bus `deployments` ──> every server: rollout.heard(id)
 *   Leadership lost   ──> rollout.follow(why)        rollout 'command' ──> bus `deployment_commands` ──> the leader: rollout.act
 *   rollout 'fenced'  ──> Leadership.fenced (a refused write: this server leads no more)
 */
import { CHANNELS, type ChangeBus } from '../bus/index.js';
import { type Leadership, LOOPS } from '../lead/index.js';
import type { RemoteCommand, RolloutHooks } from '../rollout/index.js';
import { BalancerHooks, type Balancers } from '../balance/index.js';
import type { RolloutController } from '../rollout/controller.js';

/**
 * Wires the controller to the leadership and the bus. `alone`: one server on SQLite, whose
 * leases nobody can take, so its writes go unfenced (no lease read per write). Answers a
 * function that resolves once the loop taken up at start (if this server got it) is running.
 */
export function wireRollout(w: {
  rollout: RolloutController;
  leadership: Leadership;
  bus: ChangeBus;
  alone: boolean;
}): () => Promise<void> {
  const { rollout, leadership, bus, alone } = w;
  rollout.on('written', (id) => void bus.publish(CHANNELS.deployments, String(id)));
  rollout.on('command', (c) => void bus.publish(CHANNELS.deploymentCommands, JSON.stringify(c)));
  rollout.on('fenced', (why) => leadership.fenced(LOOPS.rollout, why));
  bus.subscribe(CHANNELS.deployments, {
    change: (payload) => {
      const id = Number(payload);
      if (Number.isSafeInteger(id) && id > 0) void rollout.heard(id);
      else process.emitWarning(`rollout: ignored a deployment from another server that is not one: ${payload.slice(0, 200)}`);
    },
    resync: () => rollout.resync(),
  });
  bus.subscribe(CHANNELS.deploymentCommands, {
    change: (payload) => {
      if (!rollout.leads()) return;
      const c = parseRemoteCommand(payload);
      if (!c) return process.emitWarning(`rollout: ignored a command from another server that is not one: ${payload.slice(0, 200)}`);
      rollout
        .act(c.id, c.action, c.by)
        .catch((err: Error) => process.emitWarning(`rollout: ${c.action} of deployment ${c.id} from another server: ${err.message}`));
    },
    resync: () => undefined, // the sender sends again until it sees the command applied
  });
  let leadingNow: Promise<void> = Promise.resolve();
  leadership.on('gained', (loop, fence) => {
    if (loop !== LOOPS.rollout) return;
    leadingNow = rollout
      .lead(alone ? undefined : fence, alone ? 'restart' : 'takeover')
      .catch((err: Error) => process.emitWarning(`rollout: taking the loop up failed: ${err.message}`));
  });
  leadership.on('lost', (loop, why) => {
    if (loop === LOOPS.rollout) rollout.follow(why);
  });
  return () => leadingNow;
}

/** A command another server sent to the rollout's leader (rollout/following.ts), checked: the bus is trusted, not its payloads' shape. */
export function parseRemoteCommand(payload: string): RemoteCommand | undefined {
  try {
    const c = JSON.parse(payload) as Partial<RemoteCommand>;
    const actions: readonly string[] = ['pause', 'resume', 'promote', 'abort'];
    if (Number.isSafeInteger(c.id) && typeof c.by === 'string' && typeof c.action === 'string' && actions.includes(c.action))
      return { id: c.id!, action: c.action as RemoteCommand['action'], by: c.by };
  } catch {
    // not JSON: answered below
  }
  return undefined;
}

/**
 * The rollout's hooks (rollout/hooks.ts): load-balancer pools drain a host before it stops and
 * take it back once healthy (balance/hooks.ts; docs/balancers.md, "Drain before stop, add after healthy").
 */
export function balancerHooks(balancers: Balancers): RolloutHooks {
  return new BalancerHooks(balancers);
}
