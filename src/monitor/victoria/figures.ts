/**
 * The server's own figures in Prometheus' text format (version 0.0.4), hand-written: counters
 * with labels and gauges read when scraped. Lighter than prom-client (no dependency, no default
 * registry to reset between tests) for the dozen figures `GET /metrics` shows.
 *
 * The process-wide counters other parts increment are exported here: `POINTS_INGESTED` (the
 * history's ingestion, per point taken) and `ALARMS_SENT` (the alarms' delivery, per event sent).
 *
 * @example
 *   import { POINTS_INGESTED } from '../victoria/index.js';
 *   POINTS_INGESTED.inc(points.length, { source: source.kind }); // agent, push or nodata (PointSource)
 */

/** Label values by name; the same names on every call of one counter. */
export type Labels = Record<string, string>;

/** A counter: only goes up, by label set. */
export class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** Adds `by` (default 1) to the count of `labels`. */
  inc(by = 1, labels: Labels = {}): void {
    if (!(by >= 0)) return; // a counter never goes down
    const id = labelText(labels);
    const had = this.values.get(id);
    if (had) had.value += by;
    else this.values.set(id, { labels, value: by });
  }

  /** The count of one label set (0 when never counted). */
  value(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }

  /** The counter in the text format. */
  render(): string {
    let out = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} counter\n`;
    if (this.values.size === 0) out += `${this.name} 0\n`;
    for (const [id, { value }] of this.values) out += `${this.name}${id} ${formatValue(value)}\n`;
    return out;
  }
}

/** A figure read at scrape time: one value per label set. */
export interface Sample {
  labels?: Labels;
  value: number;
}

/** A gauge (or a counter kept elsewhere) in the text format. */
export function renderSamples(name: string, type: 'gauge' | 'counter', help: string, samples: readonly Sample[]): string {
  let out = `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
  for (const s of samples) out += `${name}${labelText(s.labels ?? {})} ${formatValue(s.value)}\n`;
  return out;
}

/** Metric points the server took (agents' reports, Falcon pushes, nodata's mock values), by source. */
export const POINTS_INGESTED = new Counter('noops_points_ingested_total', 'Metric points the server took, by source.');
/** Alarm events sent (PROBLEM and OK), by priority. */
export const ALARMS_SENT = new Counter('noops_alarms_sent_total', 'Alarm events sent (PROBLEM and OK), by priority.');

/** `{a="1",b="2"}` (sorted by name, values escaped), or '' without labels. */
export function labelText(labels: Labels): string {
  const names = Object.keys(labels).sort();
  if (names.length === 0) return '';
  return `{${names.map((n) => `${n}="${escapeLabelValue(labels[n]!)}"`).join(',')}}`;
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
