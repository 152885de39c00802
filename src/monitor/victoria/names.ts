/**
 * Falcon's names in Prometheus' vocabulary (pure). A Falcon series `endpoint/metric/tags` becomes
 * one Prometheus series:
 *
 *   cpu.idle  endpoint=h1  tags mount=/,fstype=ext4   step 60
 *   -> cpu_idle{falcon_metric="cpu.idle", endpoint="h1", falcon_tags="fstype=ext4,mount=/",
 *               fstype="ext4", mount="/", falcon_step="60"}
 *
 * - the metric name: every character outside `[a-zA-Z0-9_]` becomes `_`, and a name that starts
 *   with a digit gets a leading `_` (`df.bytes.free.percent` -> `df_bytes_free_percent`);
 * - each tag is a label of the same value, its name sanitized the same way; a name that is
 *   reserved (`__...`, `endpoint`, `falcon_...`, `le`, `quantile`) or taken by an earlier tag gets a
 *   `tag_` prefix until it is free;
 * - the original metric and tag string stay in `falcon_metric` and `falcon_tags` (absent when
 *   there are no tags): noops reads a series back by them, exactly, whatever the sanitizing did;
 * - `falcon_step` holds the step (Falcon's own archive is per step too).
 */
import type { StoredPoint } from '../metrics/ports.js';
import { parseFalconTags } from '../../api/index.js';

/** The label holding Falcon's metric name as pushed. */
export const METRIC_LABEL = 'falcon_metric';
/** The label holding Falcon's sorted tag string (absent for a series without tags). */
export const TAGS_LABEL = 'falcon_tags';
/** The label holding the series' step in seconds. */
export const STEP_LABEL = 'falcon_step';
/** The label holding the endpoint (the host, for the agents' points). */
export const ENDPOINT_LABEL = 'endpoint';

const RESERVED = new Set([ENDPOINT_LABEL, 'le', 'quantile']);

/** A Falcon metric name as a Prometheus metric name: `cpu.idle` -> `cpu_idle`. */
export function prometheusName(metric: string): string {
  const out = metric.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(out) || out === '' ? `_${out}` : out;
}

/** A tag name as a Prometheus label name (not yet checked for reserved names or collisions). */
export function labelName(tag: string): string {
  return prometheusName(tag);
}

/**
 * The labels of a point's series (`__name__` included). The tree's levels (`cop`, ..., `job`,
 * `cluster`) keep their names: imported series are not scraped, so `job` is free to mean noops' job.
 */
export function seriesLabels(p: Pick<StoredPoint, 'endpoint' | 'metric' | 'tags' | 'step'>): Record<string, string> {
  const labels: Record<string, string> = { __name__: prometheusName(p.metric), [METRIC_LABEL]: p.metric, [ENDPOINT_LABEL]: p.endpoint };
  if (p.tags !== '') labels[TAGS_LABEL] = p.tags;
  labels[STEP_LABEL] = String(p.step);
  const tags = parseFalconTags(p.tags);
  for (const name of Object.keys(tags).sort()) {
    let label = labelName(name);
    while (label.startsWith('__') || label.startsWith('falcon_') || RESERVED.has(label) || label in labels) label = `tag_${label}`;
    if (tags[name] !== '') labels[label] = tags[name]!;
  }
  return labels;
}

/** A string as a PromQL/MetricsQL double-quoted literal. */
export function quoteLabelValue(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * The series selector of one Falcon series (every step it was written with):
 * `cpu_idle{falcon_metric="cpu.idle",endpoint="h1",falcon_tags=""}` (an empty value matches a
 * series without the label: one without tags).
 */
export function seriesSelector(q: { endpoint: string; metric: string; tags: string }): string {
  return (
    `${prometheusName(q.metric)}{${METRIC_LABEL}=${quoteLabelValue(q.metric)},` +
    `${ENDPOINT_LABEL}=${quoteLabelValue(q.endpoint)},${TAGS_LABEL}=${quoteLabelValue(q.tags)}}`
  );
}
