/**
 * Following a deployment live, from the server's event stream (`GET /api/v1/deployments/:id/events`,
 * server-sent events read with fetch: EventSource cannot send the Authorization header). The
 * stream sends the whole deployment first and after every change, and ends when the deployment
 * does; a stream that breaks is opened again, and starts with the whole deployment, so nothing
 * is missed. The console asks only for a `DeploymentFeed`, so how the news arrive can change
 * without touching a page.
 */
import type { DeploymentEvent, DeploymentView } from '../api/index.js';

/** After a broken stream (the server restarting, a network blip), wait this long before the
 * next try: soon enough that a restart is barely seen, rarely enough not to hammer a server
 * that is down. */
export const RETRY_MS = 2000;

export interface FeedHandlers {
  /** every new state of the deployment; the last one has a status other than running */
  view(d: DeploymentView): void;
  /** the stream broke or could not be opened; the feed keeps trying */
  error(err: Error): void;
}

export interface DeploymentFeed {
  /** Starts following; answers a function that stops. Ends by itself when the deployment does. */
  follow(id: number, on: FeedHandlers): () => void;
}

/** Opens a deployment's event stream (ApiClient.deploymentEvents). */
export type OpenEvents = (id: number, signal: AbortSignal) => AsyncIterable<DeploymentEvent>;

/**
 * A feed on the event stream. It reports only changes (the same state twice is one report).
 *
 * @example
 *   const stop = streamingFeed((id, signal) => api.deploymentEvents(id, { signal })).follow(42, { view: render, error: show });
 */
export function streamingFeed(open: OpenEvents, retryMs = RETRY_MS): DeploymentFeed {
  return {
    follow(id, on) {
      const stop = new AbortController();
      let last = '';
      const run = async (): Promise<void> => {
        while (!stop.signal.aborted) {
          try {
            for await (const e of open(id, stop.signal)) {
              if (stop.signal.aborted) return;
              if (e.type !== 'deployment') continue;
              const text = JSON.stringify(e.deployment);
              if (text !== last) {
                last = text;
                on.view(e.deployment);
              }
              if (e.deployment.status !== 'running') return;
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

/** The feed the console uses. */
export function deploymentFeed(open: OpenEvents): DeploymentFeed {
  return streamingFeed(open);
}
