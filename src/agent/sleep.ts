/**
 * A pause that an agent's shutdown cuts short. Resolves after `ms`, or at once when `signal`
 * aborts; never rejects, and leaves no listener on the signal behind: the agent's loops share one
 * signal for their whole life, and a retry loop during a long server outage sleeps thousands of
 * times (a listener per sleep was a leak, and Node warned at the eleventh).
 *
 * @example await sleep(250, this.abort.signal)
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
