/**
 * The wait of a parked `GET /agent/desired`, at the price of one promise, one function and one
 * timer per poll. 10,000 agents hold 10,000 of these all the time, so what each holds is the
 * server's memory: before, each poll held an AbortController and its signal, a promise, a timer
 * and an abort listener for each thing it waited on, and a race of them (docs/benchmarks.md,
 * "Joining 10,000 agents, and the server's memory").
 */
import type { IncomingMessage } from 'node:http';
import type { ServerContext } from '../context.js';

/**
 * Why a balancer host's pool wait is called off (its poll was answered, or its client left). A
 * reason given: `abort()` without one makes a DOMException, stack trace and all, which was a third
 * of the server's CPU when a deploy woke 1,000 parked polls. Nothing reads it.
 */
const POLL_ENDED = 'the poll ended';

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
 * `ctx.config.longPollMs` passed; then every other wait is taken back. Rejects if the command
 * queue could not be read. Everything is registered before it returns: a change that comes while
 * the caller goes on is not missed.
 */
export function parkPoll(ctx: ServerContext, host: string, waits: PollWaits, raw: IncomingMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    let ended = false;
    /** only for a balancer host: the pools' wait takes a signal */
    let poolsLeft: AbortController | undefined;
    const end = (err?: Error): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      raw.off('close', end);
      ctx.hub.unpark(host, end);
      if (waits.commands) ctx.commands.unparkQueued(host, end);
      poolsLeft?.abort(POLL_ENDED);
      if (err === undefined) resolve();
      else reject(err);
    };
    // the timer and the close event call `end` without an argument
    const timer = setTimeout(end, ctx.config.longPollMs);
    raw.on('close', end);
    ctx.hub.park(host, end);
    if (waits.commands) ctx.commands.parkQueued(host, end); // may call end at once: a command waits now
    if (waits.balancers !== undefined && !ended) {
      poolsLeft = new AbortController();
      ctx.balancers.view.wait(host, waits.balancers, ctx.config.longPollMs, poolsLeft.signal).then(() => end(), end);
    }
  });
}
