/**
 * Following a deployment to its end: its event stream (server-sent events), rendered as it
 * comes. When the stream breaks (a server restart, a proxy), it connects again and carries on;
 * each connection starts with the whole deployment, so no line of its log is lost.
 */
import type { ApiClient } from '../api/index.js';
import type { DeploymentView, RolloutLogLine } from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import type { RolloutRenderer } from './progress.js';

/** Reconnect delays: quick at first (a restart takes a second or two), then every 5 s. */
export const RECONNECT_MIN_MS = 250;
export const RECONNECT_MAX_MS = 5000;

/** Renders a deployment until it ends; answers it as it ended. */
export async function follow(api: ApiClient, start: DeploymentView, renderer: RolloutRenderer): Promise<DeploymentView> {
  let d = start;
  const shown = new Set<string>();
  const show = (line: RolloutLogLine): void => {
    const key = `${line.at} ${line.message}`;
    if (shown.has(key)) return;
    shown.add(key);
    renderer.log(line);
  };
  const take = (next: DeploymentView): void => {
    d = next;
    renderer.update(d);
    for (const line of d.progress?.log ?? []) show(line);
  };
  take(start);
  let delay = RECONNECT_MIN_MS;
  let warned = false;
  while (d.status === 'running') {
    try {
      for await (const e of api.deploymentEvents(d.id)) {
        if (e.type === 'log') show(e.line);
        else take(e.deployment);
        delay = RECONNECT_MIN_MS;
        warned = false;
      }
    } catch (err) {
      // The server's own answers (401, 404) are final; a broken connection is not.
      if (err instanceof NoopsError && err.code !== 'NOOPS_E_SERVER_UNREACHABLE') throw err;
      if (!warned) show({ at: new Date().toISOString(), message: `lost the server (${(err as Error).message}); connecting again` });
      warned = true;
    }
    if (d.status !== 'running') break;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    try {
      take(await api.deployment(d.id));
    } catch (err) {
      if (err instanceof NoopsError && err.code !== 'NOOPS_E_SERVER_UNREACHABLE') throw err;
    }
  }
  renderer.close(d);
  return d;
}
