/**
 * Following a deployment to its end: its summary's event stream (server-sent events of a few kB,
 * never the whole deployment, which is about 3 MB at 10,000 hosts), rendered as it comes. When
 * the stream breaks (a server restart, a proxy), it connects again and carries on; each
 * connection starts with the summary and the summary holds the latest log lines, so no line of
 * its log is lost.
 */
import { type ApiClient, deploymentSummary, deploymentSummaryEvents } from '../api/index.js';
import type { DeploymentSummary, DeploymentSummaryEvent, DeploymentView, RolloutLogLine } from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import type { RolloutRenderer } from './progress.js';

/** Reconnect delays: quick at first (a restart takes a second or two), then every 5 s. */
export const RECONNECT_MIN_MS = 250;
export const RECONNECT_MAX_MS = 5000;

/** Where the summaries come from: the server (`summarySource`), or a test's. */
export interface SummarySource {
  /** the summary first and after each change, and log lines, until the deployment ends or the connection drops */
  events(id: number): AsyncIterable<DeploymentSummaryEvent>;
  /** the summary now */
  summary(id: number): Promise<DeploymentSummary>;
}

/** The server's summaries of a deployment, through the API. */
export function summarySource(api: ApiClient): SummarySource {
  return { events: (id) => deploymentSummaryEvents(api, id), summary: (id) => deploymentSummary(api, id) };
}

/** A deployment's summary as its start (the deploy call's answer) tells it, until the first summary comes. */
function startOf(
  d: DeploymentView | DeploymentSummary,
): Pick<DeploymentSummary, 'status'> & { progress: { log: RolloutLogLine[] } | null } {
  return { status: d.status, progress: d.progress && { log: d.progress.log } };
}

/** Renders a deployment until it ends; answers its summary as it ended. */
export async function follow(
  source: SummarySource,
  start: DeploymentView | DeploymentSummary,
  renderer: RolloutRenderer,
): Promise<DeploymentSummary> {
  let last: DeploymentSummary | undefined;
  const shown = new Set<string>();
  const show = (line: RolloutLogLine): void => {
    const key = `${line.at} ${line.message}`;
    if (shown.has(key)) return;
    shown.add(key);
    renderer.log(line);
  };
  const take = (next: DeploymentSummary): void => {
    last = next;
    renderer.update(next);
    for (const line of next.progress?.log ?? []) show(line);
  };
  renderer.start(start);
  for (const line of startOf(start).progress?.log ?? []) show(line);
  const running = (): boolean => (last ?? startOf(start)).status === 'running';
  let delay = RECONNECT_MIN_MS;
  let warned = false;
  while (running() || last === undefined) {
    try {
      for await (const e of source.events(start.id)) {
        if (e.type === 'log') show(e.line);
        else take(e.summary);
        delay = RECONNECT_MIN_MS;
        warned = false;
      }
    } catch (err) {
      // The server's own answers (401, 404) are final; a broken connection is not.
      if (err instanceof NoopsError && err.code !== 'NOOPS_E_SERVER_UNREACHABLE') throw err;
      if (!warned) show({ at: new Date().toISOString(), message: `lost the server (${(err as Error).message}); connecting again` });
      warned = true;
    }
    if (last !== undefined && !running()) break;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    try {
      take(await source.summary(start.id));
    } catch (err) {
      if (err instanceof NoopsError && err.code !== 'NOOPS_E_SERVER_UNREACHABLE') throw err;
    }
  }
  renderer.close(last!);
  return last!;
}
