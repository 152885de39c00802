/**
 * Long polls parked by key (a host name, a command id), woken by key or all at once. A wait is
 * registered when `wait` returns, before its promise settles: a caller that registers first and
 * reads the store second cannot miss a wake that comes between the two.
 */
export class Waiters {
  readonly #byKey = new Map<string, Set<() => void>>();

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
      let set = this.#byKey.get(key);
      if (!set) this.#byKey.set(key, (set = new Set()));
      const parked = set;
      const done = (): void => {
        clearTimeout(timer);
        for (const s of signals) s?.removeEventListener('abort', done);
        parked.delete(done);
        if (parked.size === 0 && this.#byKey.get(key) === parked) this.#byKey.delete(key);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      parked.add(done);
      for (const s of signals) {
        if (s?.aborted) return done();
        s?.addEventListener('abort', done);
      }
    });
  }

  /** How many waits are parked on `key`. */
  count(key: string): number {
    return this.#byKey.get(key)?.size ?? 0;
  }

  /** Wakes every wait parked on `key`. */
  wake(key: string): void {
    for (const done of [...(this.#byKey.get(key) ?? [])]) done();
  }

  /** Wakes every wait (shutdown; the bus may have missed changes). */
  wakeAll(): void {
    for (const key of [...this.#byKey.keys()]) this.wake(key);
  }
}
