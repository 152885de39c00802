/**
 * The agent's metrics, from collection to report: every `--metrics-every` the host's base metrics
 * (HostCollector) and each instance's `common.service*` (the Host's sampler) join the queue with
 * `agent.alive` and `agent.points.dropped`; the push API (PushServer) adds what scripts push; each
 * report takes a batch and settles it by the server's answer.
 *
 *   timer (every, at this host's phase) ─> HostCollector + instances() ─┐
 *   POST 127.0.0.1:1988/v1/push ─> checkFalconPush ──────────────────────┴─> PointQueue ─> report.metrics
 *
 * Collections fall at a fixed phase of the interval, chosen by the host's name: each falls in its
 * own step-aligned slot (the server aligns timestamps to the step), and a fleet's agents do not
 * all collect, and report, at the same second.
 */
import { type MetricSample, parseDurationText } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { HostCollector } from './host-collector.js';
import { type PointBatch, PointQueue, QUEUE_MAX_POINTS } from './point-queue.js';
import { PushServer } from './push-server.js';

/** Falcon's default interval (transfer.interval): 60 s. */
export const DEFAULT_METRICS_EVERY_MS = 60_000;
/**
 * Points in one report at most, and their bytes about. Measured: a host point is ~150 bytes of
 * JSON, an instance's ~215 (its tag's pairs); a busy host's minute (280 of the host, 5 per process
 * of 200 processes, 500 pushed: 1,780) leaves in two reports, 1,233 points (241 KB) and the rest
 * at once after. 256 KiB beside a 1,000-process host's ~400 KB of processes keeps the report
 * under the server's REPORT_MAX_BYTES (1 MiB).
 */
export const POINTS_PER_REPORT = 2_000;
export const POINT_BYTES_PER_REPORT = 256 * 1024;

/** What the agent gives its metrics. */
export interface AgentMetricsOptions {
  /** the host's name: every point's endpoint */
  endpoint: string;
  /** ms between collections, a whole number of seconds (the points' step) */
  everyMs?: number;
  /** each instance's points at `nowMs` (Host.instanceMetrics) */
  instances: (endpoint: string, step: number, nowMs: number) => MetricSample[];
  /** collect the host's base metrics (default true; off for a simulated host: its /proc is not its own) */
  hostMetrics?: boolean;
  /** the push API's address (`HOST:PORT`); undefined: none */
  pushListen?: string;
  /** told after each collection, and when pushes filled a report's worth: points wait (the agent schedules a report) */
  onPoints?: () => void;
  log: (line: string) => void;
  queueMax?: number;
  /** where the host collector reads (tests) */
  collector?: HostCollector;
}

/** The longest interval: an hour (a point an hour is already too late to alarm on). */
const MAX_METRICS_EVERY_MS = 3_600_000;

/**
 * `--metrics-every`: "60s", "1m", "1000ms", "2" (seconds) into ms. A whole number of seconds from
 * 1 s to an hour, since it is the points' step, which Falcon counts in whole seconds.
 */
export function parseMetricsEvery(raw: string): number {
  const ms = parseDurationText(raw, {
    units: ['ms', 's', 'm', 'h'],
    bare: 's',
    answer: 'ms',
    trim: true,
    decimals: true,
    round: true,
    min: 1000,
    max: MAX_METRICS_EVERY_MS,
    multipleOf: 1000,
  });
  if (ms === undefined)
    throw new NoopsError(
      'NOOPS_E_INPUT',
      `--metrics-every "${raw}" must be a whole number of seconds from 1s to 1h (e.g. 60s, 1m, 1000ms): it is the points' step`,
    );
  return ms;
}

/** The delay to the next collection: the next time `now ≡ phase (mod every)`, at least half an interval away. */
export function nextCollectionDelay(nowMs: number, everyMs: number, phaseMs: number, lastMs?: number): number {
  let delay = everyMs - ((((nowMs - phaseMs) % everyMs) + everyMs) % everyMs);
  if (delay < everyMs / 2) delay += everyMs;
  // never twice in one step's slot: the first collection (at start, not at the phase) may share
  // its slot with the phase after it, and the server keeps one point per series and slot
  if (lastMs !== undefined) while (Math.floor((nowMs + delay) / everyMs) <= Math.floor(lastMs / everyMs)) delay += everyMs;
  return delay;
}

/** A host's phase in the interval: from its name, between 10 % and 90 % (away from the slot's edges). */
export function collectionPhase(name: string, everyMs: number): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return Math.floor(everyMs * (0.1 + 0.8 * (h / 2 ** 32)));
}

/** See the file's comment. */
export class AgentMetrics {
  readonly queue: PointQueue;
  readonly everyMs: number;
  readonly #opts: AgentMetricsOptions;
  readonly #collector: HostCollector | undefined;
  readonly #logged = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  /** when the last collection began (ms): the next falls in a later step slot */
  #lastCollectMs: number | undefined;
  #push: PushServer | undefined;
  #stopped = false;
  #collecting: Promise<void> | undefined;
  #bytesPerReport = POINT_BYTES_PER_REPORT;

  constructor(opts: AgentMetricsOptions) {
    this.#opts = opts;
    this.everyMs = opts.everyMs ?? DEFAULT_METRICS_EVERY_MS;
    this.queue = new PointQueue(opts.queueMax ?? QUEUE_MAX_POINTS);
    this.#collector = opts.hostMetrics === false ? undefined : (opts.collector ?? new HostCollector());
  }

  /** The push API's address once it listens (e.g. 127.0.0.1:1988), else undefined. */
  get pushAddress(): string | undefined {
    return this.#push?.address;
  }

  /** Opens the push API (an address in use is logged and the agent runs on) and starts collecting. */
  async start(): Promise<void> {
    if (this.#opts.pushListen !== undefined) {
      try {
        this.#push = await PushServer.listen(this.#opts.pushListen, {
          endpoint: this.#opts.endpoint,
          take: (points) => {
            this.queue.push(points);
            // pushed points ride the next heartbeat (5 s); a report of its own only once a report's worth waits
            if (this.queue.size >= POINTS_PER_REPORT) this.#opts.onPoints?.();
          },
        });
        if (this.#stopped) {
          await this.#push.close(); // stopped while it opened
          this.#push = undefined;
          return;
        }
        this.#opts.log(`Falcon push API on http://${this.#push.address}/v1/push`);
      } catch (err) {
        if (err instanceof NoopsError) throw err; // not an address: the person fixes the flag
        this.#opts.log(
          `the Falcon push API cannot listen on ${this.#opts.pushListen} (${(err as Error).message}); running without it (--push-listen ADDR|off)`,
        );
      }
    }
    if (this.#stopped) return;
    this.#collecting = this.collect();
    await this.#collecting;
    this.#schedule();
  }

  /** Stops collecting and closes the push API; what is queued stays (the agent is going away). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#collecting;
    await this.#push?.close();
  }

  #schedule(): void {
    if (this.#stopped) return;
    const delay = nextCollectionDelay(Date.now(), this.everyMs, collectionPhase(this.#opts.endpoint, this.everyMs), this.#lastCollectMs);
    this.#timer = setTimeout(() => {
      this.#collecting = this.collect().finally(() => this.#schedule());
    }, delay);
  }

  /** One collection now: the host's, the instances' and the agent's own points into the queue. */
  async collect(nowMs = Date.now()): Promise<void> {
    this.#lastCollectMs = nowMs;
    const { endpoint } = this.#opts;
    const step = Math.round(this.everyMs / 1000);
    const points: MetricSample[] = [];
    if (this.#collector) {
      const got = await this.#collector.collect(endpoint, step, nowMs);
      points.push(...got.points);
      for (const e of got.errors) this.#logOnce(`host metrics: ${e}`);
    }
    try {
      points.push(...this.#opts.instances(endpoint, step, nowMs));
    } catch (err) {
      this.#logOnce(`instance metrics: ${(err as Error).message}`);
    }
    const timestamp = Math.floor(nowMs / 1000);
    const own = (metric: string, value: number, counterType: 'GAUGE' | 'COUNTER'): MetricSample => ({
      endpoint,
      metric,
      value,
      timestamp,
      step,
      counterType,
      tags: '',
    });
    points.push(own('agent.alive', 1, 'GAUGE'));
    // counted before these points join: what this collection pushes out counts next time
    points.push(own('agent.points.dropped', this.queue.dropped, 'COUNTER'));
    this.queue.push(points);
    this.#opts.onPoints?.();
  }

  /** The points for the next report (undefined: none, or a report carries some already). */
  take(): PointBatch | undefined {
    return this.queue.take(POINTS_PER_REPORT, this.#bytesPerReport);
  }

  /**
   * The server's answer to the report that carried `batch`: accepted, or the error it failed
   * with. A report too large halves the points' share for the next ones; a report refused for its
   * content (400) drops the batch (counted), so one bad point cannot stop every report after it.
   */
  settle(batch: PointBatch, error?: { code?: string; message: string }): void {
    if (error === undefined) {
      this.queue.settle(batch, 'accepted');
      this.#bytesPerReport = Math.min(POINT_BYTES_PER_REPORT, this.#bytesPerReport * 2);
      return;
    }
    if (error.code === 'NOOPS_E_REPORT_TOO_LARGE') this.#bytesPerReport = Math.max(16 * 1024, this.#bytesPerReport / 2);
    if (error.code === 'NOOPS_E_INPUT') {
      this.#opts.log(`the server refused a report with ${batch.points.length} points (${error.message}); they are dropped`);
      this.queue.settle(batch, 'drop');
      return;
    }
    this.queue.settle(batch, 'failed');
  }

  #logOnce(line: string): void {
    if (this.#logged.has(line)) return;
    if (this.#logged.size < 100) this.#logged.add(line);
    this.#opts.log(line);
  }
}
