/**
 * The grammar shared by tags and selectors: the levels of the tree and the rules for a value.
 *
 * Checks here return a message (what is wrong and how to fix it) or `null`; the callers prefix
 * the input and throw with their own error code.
 */

/**
 * The levels of the service tree, root first. `servicegroup` and `jobgroup` are optional.
 *
 * @example
 *   LEVELS.indexOf('service') < LEVELS.indexOf('job') // true
 */
export const LEVELS = ['cop', 'owt', 'pdl', 'servicegroup', 'service', 'jobgroup', 'job', 'cluster'] as const;

/**
 * One level of the tree.
 *
 * @example
 *   const level: Level = 'cluster';
 */
export type Level = (typeof LEVELS)[number];

/**
 * Levels a path may skip: `cop.x_owt.y_pdl.z_service.s` is complete without a `servicegroup`.
 *
 * @example
 *   OPTIONAL_LEVELS.has('jobgroup') // true
 */
export const OPTIONAL_LEVELS: ReadonlySet<Level> = new Set<Level>(['servicegroup', 'jobgroup']);

/**
 * What each level is, for messages and placeholders.
 *
 * @example
 *   `cop.<${LEVEL_MEANING.cop}>` // 'cop.<company>'
 */
export const LEVEL_MEANING: Readonly<Record<Level, string>> = {
  cop: 'company',
  owt: 'owner-team',
  pdl: 'product-line',
  servicegroup: 'service-group',
  service: 'service',
  jobgroup: 'job-group',
  job: 'job',
  cluster: 'cluster',
};

/**
 * At most 63 characters: the length of a DNS label, because naming and load balancers turn
 * tag values into host and upstream names.
 */
export const MAX_VALUE_LENGTH = 63;

const LEVEL_INDEX = new Map<string, number>(LEVELS.map((level, i) => [level, i]));

/**
 * True when `key` is one of the {@link LEVELS}.
 *
 * @example
 *   isLevel('pdl') // true
 */
export function isLevel(key: string): key is Level {
  return LEVEL_INDEX.has(key);
}

/**
 * Position of `level` in {@link LEVELS}.
 *
 * @example
 *   levelIndex('cop') // 0
 */
export function levelIndex(level: Level): number {
  return LEVEL_INDEX.get(level) as number;
}

/**
 * `null` when `key` is a level, else a message saying which keys exist. `sep` is the character
 * between key and value in the caller's syntax ("." in tags, "=" in selectors).
 *
 * @example
 *   checkKey('team') // 'unknown key "team"; keys are cop, owt, ...'
 */
export function checkKey(key: string, sep: '.' | '=' = '.'): string | null {
  if (isLevel(key)) return null;
  if (key === '') return `a pair has no key; write each pair as key${sep}value, e.g. cop${sep}xiaomi`;
  const lower = key.toLowerCase();
  if (isLevel(lower)) return `key "${key}" has upper-case letters; keys are lower-case: write ${lower}`;
  return `unknown key "${key}"; keys are ${LEVELS.join(', ')}`;
}

/**
 * `null` when `value` is a valid value for `key`, else a message saying how to fix it.
 *
 * @example
 *   checkValue('owt', 'Miliao') // 'value "Miliao" of owt has upper-case letters; values are ...'
 */
export function checkValue(key: string, value: string, sep: '.' | '=' = '.'): string | null {
  const rule = 'values are lower-case letters, digits and "-"';
  if (value === '') return `key "${key}" has an empty value; give a value, e.g. ${key}${sep}<${LEVEL_MEANING[key as Level] ?? 'name'}>`;
  if (/[A-Z]/.test(value)) return `value "${value}" of ${key} has upper-case letters; ${rule}`;
  if (value.includes('_')) return `value "${value}" of ${key} contains "_"; ${rule} (use "-" instead of "_")`;
  if (value.includes('.')) return `value "${value}" of ${key} contains "."; ${rule} (use "-" instead of ".")`;
  const bad = value.match(/[^a-z0-9-]/);
  if (bad) return `value "${value}" of ${key} contains ${JSON.stringify(bad[0])}; ${rule}`;
  if (value.length > MAX_VALUE_LENGTH) {
    return `value "${value}" of ${key} is ${value.length} characters long; values are at most ${MAX_VALUE_LENGTH} characters`;
  }
  return null;
}
