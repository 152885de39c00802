/**
 * How many containers the agent asks the engine to create and start at once. The supervisor
 * launches every process of a deploy at the same moment (its `start` never waits for one); the
 * engine's own work per start (runc, the shim, the network namespace) is CPU, so past a few at a
 * time it only stretches every start. Measured on this 2-core machine (20 containers, load ~20):
 * one at a time 27.2 s to all running, 4 at a time 12.2 s, 8 at a time 11.1 s, all 20 at once
 * 10.7 s. 8 keeps nearly all of the gain, lets the first instances be up while later ones wait,
 * and leaves the engine's API free for the calls a deploy also makes (stops, inspects, waits).
 */

/** Containers created and started at once, per agent. */
export const CONCURRENT_STARTS = 8;

/** A counting semaphore: `run(fn)` runs at most `limit` functions at once, the others wait in order. */
export class StartLimit {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number = CONCURRENT_STARTS) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a start limit is a whole number >= 1, not ${limit}`);
  }

  /** Starts running now (how many run) and waiting for a turn. */
  get counts(): { active: number; waiting: number } {
    return { active: this.#active, waiting: this.#waiting.length };
  }

  /** Runs `fn` once fewer than `limit` run; its failure is the caller's (and frees the turn). */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}
