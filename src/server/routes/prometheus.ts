/**
 * Prometheus (issue 15):
 * - `GET /metrics`: the server's and its agents' own figures in Prometheus' text format. Who may
 *   scrape: any person's token with at least the viewer role (a team viewer token made for the
 *   scraper: `noops token create --scope TAG --role viewer`), or the admin; no token is 401, an
 *   agent's or a join token 403. The figures are counts, never a host, tag or token name.
 * - `GET /api/v1/prometheus/targets?selector=S`: Prometheus' HTTP service discovery: every
 *   instance that runs (`up`) with a port, as `host:port`, labelled with its tag's levels, host,
 *   process and version; scoped like every read (a team sees its subtree's).
 * Also counts every API call by route pattern and status (`installRequestCounter`).
 */
import { readdirSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import type { FastifyInstance, onResponseHookHandler } from 'fastify';
import { z } from 'zod';
import { API_PREFIX } from '../../api/index.js';
import { LOOPS } from '../../lead/index.js';
import { ALARMS_SENT, Counter, labelText, renderSamples, type Sample } from '../../monitor/victoria/index.js';
import { plainAddress } from '../../naming/index.js';
import { matches, parseSelector, parseTag } from '../../tree/index.js';
import { canSee } from '../auth.js';
import type { ServerContext } from '../context.js';
import { parseQuery } from './parse.js';

/** The text format's content type (what Prometheus expects). */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** One group of Prometheus' HTTP service discovery. */
export interface ScrapeTargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * The Prometheus routes, and the request counter on every route registered after them: register
 * before the API (app.ts).
 */
export async function prometheusRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const requests = installRequestCounter(app);

  app.get('/metrics', { config: { access: 'viewer' } }, async (req, reply) => {
    parseQuery(z.object({}).strict(), req.query, 'metrics');
    reply.header('content-type', PROMETHEUS_CONTENT_TYPE);
    return figures(ctx, requests);
  });

  app.get(`${API_PREFIX}/prometheus/targets`, { config: { access: 'viewer' } }, async (req): Promise<ScrapeTargetGroup[]> => {
    const q = parseQuery(z.object({ selector: z.string().optional() }).strict(), req.query, 'prometheus/targets');
    const sel = q.selector ? parseSelector(q.selector) : undefined;
    const addresses = new Map<string, string | null>();
    // the `address` rule of the deploy tests (docs/rollouts.md): the host's `address` label, else where its agent connects from
    for (const h of await ctx.store.listHosts()) addresses.set(h.name, plainAddress(h.labels.address ?? h.address));
    const groups: ScrapeTargetGroup[] = [];
    for (const r of ctx.reports.instances()) {
      if (r.state !== 'up' || r.port === null || !canSee(req.principal, r.tag)) continue;
      if (sel && !matches(sel, r.tag)) continue;
      const address = addresses.get(r.host);
      if (!address) continue; // a host without a known address cannot be scraped
      const labels: Record<string, string> = {};
      for (const pair of parseTag(r.tag).pairs) labels[pair.key] = pair.value;
      Object.assign(labels, { host: r.host, process: r.process, version: r.version, noops_tag: r.tag });
      groups.push({ targets: [`${address.includes(':') ? `[${address}]` : address}:${r.port}`], labels });
    }
    return groups;
  });
}

/**
 * Calls answered, by method, route pattern and status. The label text of each set is made once,
 * when it is first seen, not on every call (the hook runs for every request the server answers).
 * Renders as a `Counter` of those labels does.
 */
export class RequestCounter {
  private readonly byRoute = new Map<string, Map<string, Map<number, { text: string; value: number }>>>();
  private size = 0;

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** Counts one call. */
  inc(method: string, route: string, status: number): void {
    let byMethod = this.byRoute.get(route);
    if (byMethod === undefined) this.byRoute.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()));
    const cell = byStatus.get(status);
    if (cell !== undefined) cell.value++;
    else {
      byStatus.set(status, { text: labelText({ method, route, status: String(status) }), value: 1 });
      this.size++;
    }
  }

  /** The counter in the text format. */
  render(): string {
    let out = renderSamples(this.name, 'counter', this.help, this.size === 0 ? [{ value: 0 }] : []);
    for (const byMethod of this.byRoute.values())
      for (const byStatus of byMethod.values()) for (const { text, value } of byStatus.values()) out += `${this.name}${text} ${value}\n`;
    return out;
  }
}

/** The request counter's figures: calls by method, route pattern and status, and agents' reports. */
interface RequestFigures {
  http: RequestCounter;
  reports: Counter;
}

/**
 * Counts every answered call by method, route pattern (`/api/v1/nodes/:tag`: never the names in
 * a URL) and status; a call no route matched is `route="unmatched"`. Reports taken from agents are
 * counted apart (`noops_reports_received_total`).
 */
export function installRequestCounter(app: FastifyInstance): RequestFigures {
  const http = new RequestCounter('noops_http_requests_total', 'HTTP requests answered, by method, route pattern and status.');
  const reports = new Counter('noops_reports_received_total', "Agents' reports this server took.");
  const reportRoute = `${API_PREFIX}/agent/report`;
  // Each route counts with its pattern kept in its own hook: `req.routeOptions` builds a new
  // object at every read, a fifth of the server's CPU when one naming change answers 1,000 parked
  // watchers (bench/naming's profile). Calls no route matched are counted by the one global hook.
  app.addHook('onRoute', (route) => {
    const pattern = route.url;
    const counted: onResponseHookHandler = (req, reply, done) => {
      http.inc(req.method, pattern, reply.statusCode);
      if (pattern === reportRoute && reply.statusCode < 300) reports.inc();
      done();
    };
    const own = route.onResponse;
    route.onResponse = own === undefined ? [counted] : [...(Array.isArray(own) ? own : [own]), counted];
  });
  app.addHook('onResponse', (req, reply, done) => {
    if (req.is404) http.inc(req.method, 'unmatched', reply.statusCode);
    done();
  });
  return { http, reports };
}

/** V8's heap by space (new, old, code, large objects...): allocated and in use (prom-client's names). */
function heapSpaces(): string[] {
  const spaces = getHeapSpaceStatistics();
  const space = (s: (typeof spaces)[number]) => ({ space: s.space_name.replace(/_space$/, '') });
  return [
    renderSamples(
      'nodejs_heap_space_size_total_bytes',
      'gauge',
      "Each space of V8's heap as allocated, in bytes.",
      spaces.map((s) => ({ labels: space(s), value: s.space_size })),
    ),
    renderSamples(
      'nodejs_heap_space_size_used_bytes',
      'gauge',
      "Each space of V8's heap in use, in bytes.",
      spaces.map((s) => ({ labels: space(s), value: s.space_used_size })),
    ),
  ];
}

async function figures(ctx: ServerContext, requests: RequestFigures): Promise<string> {
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  const hosts = await ctx.store.listHosts();
  const up = hosts.filter((h) => ctx.reports.isUp(ctx.reports.lastSeen(h.name, h.lastHeartbeat))).length;
  const parts = [
    renderSamples('process_cpu_user_seconds_total', 'counter', 'User CPU time spent, in seconds.', [{ value: cpu.user / 1e6 }]),
    renderSamples('process_cpu_system_seconds_total', 'counter', 'System CPU time spent, in seconds.', [{ value: cpu.system / 1e6 }]),
    renderSamples('process_resident_memory_bytes', 'gauge', 'Resident memory size, in bytes.', [{ value: mem.rss }]),
    renderSamples('nodejs_heap_used_bytes', 'gauge', "V8's heap in use, in bytes.", [{ value: mem.heapUsed }]),
    renderSamples('nodejs_heap_total_bytes', 'gauge', "V8's heap as allocated from the system (in use or not), in bytes.", [
      { value: mem.heapTotal },
    ]),
    ...heapSpaces(),
    renderSamples('nodejs_external_memory_bytes', 'gauge', "Memory outside V8's heap held by its objects (buffers), in bytes.", [
      { value: mem.external },
    ]),
    renderSamples('process_start_time_seconds', 'gauge', 'When the process started, in seconds since the epoch.', [
      { value: Math.round(Date.now() / 1000 - process.uptime()) },
    ]),
    ...openFds(),
    requests.http.render(),
    renderSamples('noops_agents_known', 'gauge', 'Hosts joined to this server (their agents).', [{ value: hosts.length }]),
    renderSamples('noops_agents_up', 'gauge', 'Hosts whose agent reported within the down-after time.', [{ value: up }]),
    requests.reports.render(),
    ...pointFigures(ctx),
    ALARMS_SENT.render(),
    renderSamples(
      'noops_leases_held',
      'gauge',
      'Control loops this server leads (1) or not (0), by loop.',
      Object.values(LOOPS).map((loop): Sample => ({ labels: { loop }, value: ctx.leadership.leads(loop) ? 1 : 0 })),
    ),
  ];
  const victoria = ctx.victoria?.stats();
  if (victoria) {
    parts.push(
      renderSamples('noops_victoria_points_sent_total', 'counter', 'Points VictoriaMetrics took.', [{ value: victoria.sent }]),
      renderSamples('noops_victoria_points_buffered', 'gauge', 'Points waiting to be sent to VictoriaMetrics.', [
        { value: victoria.buffered },
      ]),
      renderSamples('noops_victoria_points_dropped_total', 'counter', 'Points dropped because the buffer for VictoriaMetrics was full.', [
        { value: victoria.dropped },
      ]),
      renderSamples('noops_victoria_import_failures_total', 'counter', 'Imports VictoriaMetrics did not take (each retried).', [
        { value: victoria.failures },
      ]),
    );
  }
  return parts.join('');
}

/** The ingestion's counts (MetricsIngest.counters): points taken, stored, dropped. */
function pointFigures(ctx: ServerContext): string[] {
  const c = ctx.metrics.ingest.counters;
  return [
    renderSamples('noops_points_ingested_total', 'counter', 'Metric points given to the ingestion, by outcome.', [
      { labels: { outcome: 'accepted' }, value: c.accepted },
      { labels: { outcome: 'stale' }, value: c.stale },
      { labels: { outcome: 'refused' }, value: c.refused },
    ]),
    renderSamples('noops_points_stored_total', 'counter', 'Metric points written to the store.', [{ value: c.stored }]),
    renderSamples('noops_points_dropped_total', 'counter', 'Metric points dropped because too many waited to be stored.', [
      { value: c.dropped },
    ]),
    renderSamples('noops_points_store_write_failures_total', 'counter', 'Batches of points the store did not take (each retried).', [
      { value: c.failedWrites },
    ]),
    renderSamples('noops_points_sink_failures_total', 'counter', 'Batches a history sink (VictoriaMetrics) did not take.', [
      { value: c.sinkFailures },
    ]),
  ];
}

/** Open file descriptors (Linux' /proc); nothing where there is no /proc. */
function openFds(): string[] {
  try {
    const n = readdirSync('/proc/self/fd').length;
    return [renderSamples('process_open_fds', 'gauge', 'Open file descriptors.', [{ value: n }])];
  } catch {
    return [];
  }
}
