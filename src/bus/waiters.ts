/**
 * Long polls parked by key (a host name, a command id), woken by key or all at once. A wait is
 * registered when `wait` (or `park`) returns, before anything settles: a caller that registers
 * first and reads the store second cannot miss a wake that comes between the two.
 *
 * Two ways to wait. `wait` is a promise with its own timeout and abort signals: simple, for the
 * few (a CLI reading a command). `park` registers a plain function and nothing else (no promise,
 * no timer, no listener): what 10,000 parked agent polls use, each holding one function for all
 * it waits on (server/routes/agent-park.ts). A key with one parked function holds it alone, not in a Set:
 * most hosts have one poll.
 */
export class Waiters {
  readonly #byKey = new Map<string, (() => void) | Set<() => void>>();

  /**
   * Resolves when `key` is woken, after `timeoutMs`, or when any of `signals` aborts, whichever
   * is first.
   *
   * @example
   *   const found = new AbortController();
   *   const woken = waiters.wait('web-1', 25_000, req.signal, found.signal); // parked now
   *   if (await storeHasNews()) found.abort();
   *   await woken;
   */
  wait(key: string, timeoutMs: number, ...signals: (AbortSignal | undefined)[]): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        for (const s of signals) s?.removeEventListener('abort', done);
        this.unpark(key, done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.park(key, done);
      for (const s of signals) {
        if (s?.aborted) return done();
        s?.addEventListener('abort', done);
      }
    });
  }

  /**
   * Calls `wake` at the next wake of `key` (then it is no longer parked). Parking the same
   * function twice on one key parks it once. Undo with `unpark`.
   *
   * @example
   *   const end = () => { waiters.unpark('web-1', end); answer(); };
   *   waiters.park('web-1', end);
   */
  park(key: string, wake: () => void): void {
    const had = this.#byKey.get(key);
    if (had === undefined) this.#byKey.set(key, wake);
    else if (typeof had === 'function') {
      if (had !== wake) this.#byKey.set(key, new Set([had, wake]));
    } else had.add(wake);
  }

  /** Takes `wake` off `key` (nothing if it is not parked there). */
  unpark(key: string, wake: () => void): void {
    const had = this.#byKey.get(key);
    if (had === wake) this.#byKey.delete(key);
    else if (typeof had === 'object') {
      had.delete(wake);
      if (had.size === 0) this.#byKey.delete(key);
    }
  }

  /** How many waits are parked on `key`. */
  count(key: string): number {
    const had = this.#byKey.get(key);
    return had === undefined ? 0 : typeof had === 'function' ? 1 : had.size;
  }

  /**
   * Wakes every wait parked on `key`: each is taken off, then called. One that throws does not
   * keep the others parked: they are called all the same, then the first error is thrown.
   */
  wake(key: string): void {
    const had = this.#byKey.get(key);
    if (had === undefined) return;
    this.#byKey.delete(key);
    if (typeof had === 'function') {
      had();
      return;
    }
    eachOf(had, (wake) => wake());
  }

  /** The keys waited on now (a copy). */
  keys(): string[] {
    return [...this.#byKey.keys()];
  }

  /** Wakes every wait (shutdown; the bus may have missed changes); one that throws stops none of the others (the first error is thrown after). */
  wakeAll(): void {
    eachOf(this.keys(), (key) => this.wake(key));
  }
}

/** Calls `call` on each item; one that throws stops none of the others, and the first error is thrown after them. */
function eachOf<T>(items: Iterable<T>, call: (item: T) => void): void {
  let threw = false;
  let first: unknown;
  for (const item of items) {
    try {
      call(item);
    } catch (err) {
      if (!threw) [threw, first] = [true, err];
    }
  }
  if (threw) throw first;
}
