/**
 * Open-Falcon's push format, unchanged, so Falcon's plugins and SDKs work: the agent's
 * `POST /v1/push` (127.0.0.1:1988) and the server's `POST /api/v1/push` take a JSON list of
 * `{endpoint, metric, timestamp, step, value, counterType, tags}`.
 *
 * The checks are transfer's (`RecvMetricValues`): an item with no endpoint or metric, another
 * counterType than GAUGE, COUNTER or DERIVE, no value (a number or a numeric string), a step not
 * above 0, or metric + tags longer than 510 is invalid and counted, the others are taken; a
 * timestamp not above 0 or more than twice now becomes now. noops adds the reason for each invalid
 * item (`invalid[]`), beside Falcon's count. Pure and light: the agent loads it too.
 */

/** Falcon's three counter types: GAUGE as sent; COUNTER and DERIVE stored and judged as rates. */
export type CounterType = 'GAUGE' | 'COUNTER' | 'DERIVE';

/** One point, checked and normalized: tags parsed and their string sorted by key (Falcon's `DictedTagstring`). */
export interface FalconPoint {
  endpoint: string;
  metric: string;
  /** seconds since the epoch, as sent (not yet aligned: see alignTimestamp) */
  timestamp: number;
  /** seconds between points */
  step: number;
  value: number;
  counterType: CounterType;
  /** `k=v,k=v` sorted by key; '' for none */
  tags: string;
}

/** Why an item of a push was not taken, by its index in the list. */
export interface InvalidPoint {
  index: number;
  reason: string;
}

/** The longest metric + tags, as Falcon's transfer allows. */
export const MAX_METRIC_AND_TAGS = 510;
/** The most items one push may hold (a bigger push is refused whole, with a hint to split it). */
export const MAX_PUSH_ITEMS = 10_000;

const COUNTER_TYPES: ReadonlySet<string> = new Set(['GAUGE', 'COUNTER', 'DERIVE']);

/**
 * Parses Falcon's `k=v,k=v` tags into an object (spaces around keys and values trimmed, empty
 * parts skipped, a part without `=` dropped, as Falcon's `SplitTagsString` does).
 */
export function parseFalconTags(tags: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (tags === '') return out;
  for (const part of tags.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === '') continue;
    out[key] = value;
  }
  return out;
}

/** Tags as Falcon stores them: `k=v` pairs sorted by key, joined by commas. */
export function falconTagString(tags: Record<string, string>): string {
  const keys = Object.keys(tags).sort();
  let out = '';
  for (const k of keys) out += (out === '' ? '' : ',') + k + '=' + tags[k];
  return out;
}

/** A timestamp aligned down to its step, as transfer does before the judge sees it. */
export function alignTimestamp(timestamp: number, step: number): number {
  return step > 0 ? timestamp - (timestamp % step) : timestamp;
}

/** A series' key: endpoint, metric and sorted tags (Falcon's primary key, before its md5). */
export function seriesKey(endpoint: string, metric: string, tags: string): string {
  return tags === '' ? `${endpoint}/${metric}` : `${endpoint}/${metric}/${tags}`;
}

function numeric(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/**
 * Checks a push body (already JSON-parsed). A body that is not a list, or longer than
 * MAX_PUSH_ITEMS, is `undefined` (the caller answers 400); otherwise every valid item is in
 * `points` and every other in `invalid`, with its reason.
 */
export function checkFalconPush(body: unknown, nowSeconds: number): { points: FalconPoint[]; invalid: InvalidPoint[] } | undefined {
  if (!Array.isArray(body) || body.length > MAX_PUSH_ITEMS) return undefined;
  const points: FalconPoint[] = [];
  const invalid: InvalidPoint[] = [];
  for (let index = 0; index < body.length; index++) {
    const reason = checkItem(body[index], nowSeconds, points);
    if (reason !== undefined) invalid.push({ index, reason });
  }
  return { points, invalid };
}

function checkItem(item: unknown, now: number, into: FalconPoint[]): string | undefined {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return 'not an object';
  const v = item as Record<string, unknown>;
  const endpoint = typeof v.endpoint === 'string' ? v.endpoint : '';
  const metric = typeof v.metric === 'string' ? v.metric : '';
  if (endpoint === '' || metric === '') return 'endpoint and metric are required';
  if (metric === 'kernel.hostname') return 'kernel.hostname is not a number (Falcon drops it too)';
  const counterType = v.counterType;
  if (typeof counterType !== 'string' || !COUNTER_TYPES.has(counterType)) return 'counterType must be GAUGE, COUNTER or DERIVE';
  const value = numeric(v.value);
  if (value === undefined) return 'value must be a number or a numeric string';
  const step = numeric(v.step);
  if (step === undefined || step <= 0 || !Number.isInteger(step)) return 'step must be a whole number of seconds above 0';
  const rawTags = v.tags === undefined || v.tags === null ? '' : v.tags;
  if (typeof rawTags !== 'string') return 'tags must be a string k=v,k=v';
  if (metric.length + rawTags.length > MAX_METRIC_AND_TAGS) return `metric and tags longer than ${MAX_METRIC_AND_TAGS}`;
  let timestamp = numeric(v.timestamp) ?? 0;
  timestamp = Math.trunc(timestamp);
  if (timestamp <= 0 || timestamp > now * 2) timestamp = now;
  into.push({
    endpoint,
    metric,
    timestamp,
    step,
    value,
    counterType: counterType as CounterType,
    tags: falconTagString(parseFalconTags(rawTags)),
  });
  return undefined;
}
