/**
 * Wakes agents that long-poll for their desired state when it changes. In-process only: with
 * several servers on one PostgreSQL, a later change fans this out with LISTEN/NOTIFY.
 *
 * Every wake is first told to the listeners (the DesiredView forgets the host's resolved
 * answer), so the polls it wakes read the new state.
 */
export class DesiredHub {
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly listeners: ((host: string) => void)[] = [];

  /** Calls `listener` with the host of every `notify`, before its polls wake. */
  listen(listener: (host: string) => void): void {
    this.listeners.push(listener);
  }

  /** Resolves when `notify(host)` is called or after `timeoutMs`, whichever is first. */
  wait(host: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(host);
      if (!set) this.waiters.set(host, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set!.delete(done);
        if (set!.size === 0) this.waiters.delete(host);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done);
      set.add(done);
    });
  }

  /** The host's desired state (or what its agent is told) changed: its polls answer now. */
  notify(host: string): void {
    for (const listener of this.listeners) listener(host);
    const set = this.waiters.get(host);
    if (!set) return;
    for (const done of [...set]) done();
  }

  /** Wakes every waiter (used on shutdown). */
  notifyAll(): void {
    for (const host of [...this.waiters.keys()]) this.notify(host);
  }
}
