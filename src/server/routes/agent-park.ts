/**
 * The wait of a parked `GET /agent/desired`, at the price of one promise, one function and one
 * timer per poll. 10,000 agents hold 10,000 of these all the time, so what each holds is the
 * server's memory: before, each poll held an AbortController and its signal, a promise, a timer
 * and an abort listener for each thing it waited on, and a race of them (docs/benchmarks.md,
 * "Joining 10,000 agents, and the server's memory"). The same function is parked on each thing
 * it waits for (the hub, the commands, the balancer view's pools), so each holds one entry more.
 */
import type { IncomingMessage } from 'node:http';
import type { ServerContext } from '../context.js';

/** What a parked poll waits for, besides its own desired state (always). */
export interface PollWaits {
  /** a command queued for the host (`?commands=1`) */
  commands: boolean;
  /** a change of the host's load-balancer pools from this index (`?balancers=INDEX`) */
  balancers?: number;
}

/**
 * Resolves at the first of: the host's desired state changed (its hub wake, from any server), a
 * command was queued for it, its pools changed, its client left (`raw` closed), or
 * `ctx.config.longPollMs` passed (then with true: nothing woke it); then every other wait is taken
 * back. Rejects if the command queue could not be read. Everything is registered before it
 * returns: a change that comes while the caller goes on is not missed.
 */
export function parkPoll(ctx: ServerContext, host: string, waits: PollWaits, raw: IncomingMessage): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let ended = false;
    let waitedOut = false;
    const end = (err?: Error): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      raw.off('close', end);
      ctx.hub.unpark(host, end);
      if (waits.commands) ctx.commands.unparkQueued(host, end);
      if (waits.balancers !== undefined) ctx.balancers.view.unpark(host, end);
      if (err === undefined) resolve(waitedOut);
      else reject(err);
    };
    // the timer and the close event call `end` without an argument
    const timer = setTimeout(() => {
      waitedOut = true;
      end();
    }, ctx.config.longPollMs);
    raw.on('close', end);
    ctx.hub.park(host, end);
    if (waits.commands) ctx.commands.parkQueued(host, end); // may call end at once: a command waits now
    // its pools' index moved since the agent's: answered at once
    if (waits.balancers !== undefined && !ended && !ctx.balancers.view.park(host, waits.balancers, end)) end();
  });
}
