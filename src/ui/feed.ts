/**
 * Following a deployment live. The console asks for a `DeploymentFeed` and never cares how the
 * news arrive: today by polling `GET /api/v1/deployments/:id`; when the server streams
 * `GET /api/v1/deployments/:id/events` (server-sent events), a streaming feed with the same
 * interface replaces `pollingFeed` in `deploymentFeed` and nothing else changes. (A stream must
 * be read with fetch, not EventSource, which cannot send the Authorization header.)
 */
import type { DeploymentView } from '../api/types.js';

/** Polls once a second: a host's state shows within a second, and a hundred open consoles cost
 * the server a hundred small reads a second. */
export const POLL_MS = 1000;
/** After a failed poll (the server restarting, a network blip), wait longer before the next. */
export const RETRY_MS = 3000;

export interface FeedHandlers {
  /** every new state of the deployment; the last one has a status other than running */
  view(d: DeploymentView): void;
  /** a poll failed; the feed keeps trying */
  error(err: Error): void;
}

export interface DeploymentFeed {
  /** Starts following; answers a function that stops. Ends by itself when the deployment does. */
  follow(id: number, on: FeedHandlers): () => void;
}

/** Reads one deployment (ApiClient.deployment). */
export type ReadDeployment = (id: number) => Promise<DeploymentView>;

/**
 * A feed that polls. It reports only changes (the same JSON twice is one report) and stops
 * after the deployment ends.
 *
 * @example
 *   const stop = pollingFeed((id) => api.deployment(id)).follow(42, { view: render, error: show });
 */
export function pollingFeed(read: ReadDeployment, everyMs = POLL_MS, retryMs = RETRY_MS): DeploymentFeed {
  return {
    follow(id, on) {
      let stopped = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let last = '';
      const tick = async (): Promise<void> => {
        let next = everyMs;
        try {
          const d = await read(id);
          if (stopped) return;
          const text = JSON.stringify(d);
          if (text !== last) {
            last = text;
            on.view(d);
          }
          if (d.status !== 'running') return;
        } catch (err) {
          if (stopped) return;
          on.error(err as Error);
          next = retryMs;
        }
        timer = setTimeout(() => void tick(), next);
      };
      void tick();
      return () => {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
      };
    },
  };
}

/** The feed the console uses. */
export function deploymentFeed(read: ReadDeployment): DeploymentFeed {
  return pollingFeed(read);
}
