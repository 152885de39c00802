/**
 * Following a deployment live, from the server's event stream (`GET /api/v1/deployments/:id/events`,
 * server-sent events read with fetch: EventSource cannot send the Authorization header). The
 * stream sends the whole deployment (or, `?view=summary`, its summary) first and after every change, and ends when the deployment
 * does; a stream that breaks is opened again, and starts with the whole deployment, so nothing
 * is missed. The console asks only for a `DeploymentFeed`, so how the news arrive can change
 * without touching a page.
 */
import type { DeploymentEvent, DeploymentSummary, DeploymentSummaryEvent, DeploymentView } from '../api/index.js';

/** After a broken stream (the server restarting, a network blip), wait this long before the
 * next try: soon enough that a restart is barely seen, rarely enough not to hammer a server
 * that is down. */
export const RETRY_MS = 2000;

export interface FeedHandlers<V = DeploymentView> {
  /** every new state of the deployment; the last one has a status other than running */
  view(d: V): void;
  /** the stream broke or could not be opened; the feed keeps trying */
  error(err: Error): void;
}

export interface DeploymentFeed<V = DeploymentView> {
  /** Starts following; answers a function that stops. Ends by itself when the deployment does. */
  follow(id: number, on: FeedHandlers<V>): () => void;
}

/** Opens a deployment's event stream (ApiClient.deploymentEvents). */
export type OpenEvents = (id: number, signal: AbortSignal) => AsyncIterable<DeploymentEvent>;
/** Opens a deployment's summary stream (`deploymentSummaryEvents`, `?view=summary`). */
export type OpenSummaryEvents = (id: number, signal: AbortSignal) => AsyncIterable<DeploymentSummaryEvent>;

/**
 * A feed on the event stream. It reports only changes (the same state twice is one report).
 *
 * @example
 *   const stop = streamingFeed((id, signal) => api.deploymentEvents(id, { signal })).follow(42, { view: render, error: show });
 */
export function streamingFeed(open: OpenEvents, retryMs = RETRY_MS): DeploymentFeed {
  return feedOf(open, (e) => (e.type === 'deployment' ? e.deployment : undefined), retryMs);
}

/**
 * A feed on the summary stream: a few kB per change at any size, where the whole deployment is
 * about 3 MB at 10,000 hosts. It reports only changes (by the summary's index).
 *
 * @example
 *   const stop = summaryFeed((id, signal) => deploymentSummaryEvents(api, id, { signal })).follow(42, { view: render, error: show });
 */
export function summaryFeed(open: OpenSummaryEvents, retryMs = RETRY_MS): DeploymentFeed<DeploymentSummary> {
  return feedOf(open, (e) => (e.type === 'summary' ? e.summary : undefined), retryMs);
}

/** The feed of one kind of stream: `pick` finds the deployment's state in an event (log lines have none). */
function feedOf<E, V extends { status: string }>(
  open: (id: number, signal: AbortSignal) => AsyncIterable<E>,
  pick: (e: E) => V | undefined,
  retryMs: number,
): DeploymentFeed<V> {
  return {
    follow(id, on) {
      const stop = new AbortController();
      let last = '';
      const run = async (): Promise<void> => {
        while (!stop.signal.aborted) {
          try {
            for await (const e of open(id, stop.signal)) {
              if (stop.signal.aborted) return;
              const v = pick(e);
              if (v === undefined) continue;
              const text = JSON.stringify(v);
              if (text !== last) {
                last = text;
                on.view(v);
              }
              if (v.status !== 'running') return;
            }
          } catch (err) {
            if (stop.signal.aborted) return;
            on.error(err as Error);
          }
          await new Promise((r) => setTimeout(r, retryMs));
        }
      };
      void run();
      return () => stop.abort();
    },
  };
}

/** The feed the console uses: the summaries (the live page reads the hosts a page at a time). */
export function deploymentFeed(open: OpenSummaryEvents): DeploymentFeed<DeploymentSummary> {
  return summaryFeed(open);
}
