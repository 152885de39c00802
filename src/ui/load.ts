/**
 * Loading data for a page: the last good answer stays on screen while a reload runs (no
 * flicker), errors are kept for the page to show, and a page can refresh itself while visible.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload(): void;
}

/**
 * Calls `load` when `deps` change, and every `refreshMs` while the tab is visible.
 *
 * @example
 *   const hosts = useLoad(() => api.hosts(), [], 5000);
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], refreshMs?: number): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean; key: string }>({ loading: true, key: '' });
  const key = JSON.stringify(deps);
  const seq = useRef(0);
  const run = useCallback(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true, key }));
    load().then(
      (data) => mine === seq.current && setState({ data, error: undefined, loading: false, key }),
      (error: Error) => mine === seq.current && setState((s) => ({ data: s.key === key ? s.data : undefined, error, loading: false, key })),
    );
  }, [key]);
  useEffect(() => {
    run();
    if (!refreshMs) return undefined;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') run();
    }, refreshMs);
    return () => clearInterval(timer);
  }, [run, refreshMs]);
  // Data of other deps (another node) is never shown under the new one.
  const fresh = state.key === key;
  return { data: fresh ? state.data : undefined, error: fresh ? state.error : undefined, loading: state.loading || !fresh, reload: run };
}
