/**
 * Wakes agents that long-poll for their desired state when it changes. In-process only: with
 * several servers on one PostgreSQL, a later change fans this out with LISTEN/NOTIFY.
 */
export class DesiredHub {
  private readonly waiters = new Map<string, Set<() => void>>();

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

  notify(host: string): void {
    const set = this.waiters.get(host);
    if (!set) return;
    for (const done of [...set]) done();
  }

  /** Wakes every waiter (used on shutdown). */
  notifyAll(): void {
    for (const host of [...this.waiters.keys()]) this.notify(host);
  }
}
