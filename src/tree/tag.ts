/**
 * Tags: `key.value` pairs joined by `_`, naming a node of the service tree.
 *
 * A tag may be written in any key order (the seed writes them leaf first); it is kept and printed
 * in tree order, its canonical form.
 */
import { NoopsError } from '../errors/index.js';
import { LEVEL_MEANING, OPTIONAL_LEVELS, LEVELS, checkKey, checkValue, levelIndex, type Level } from './levels.js';

/**
 * One `key.value` pair of a tag.
 *
 * @example
 *   const pair: TagPair = { key: 'owt', value: 'miliao' };
 */
export interface TagPair {
  readonly key: Level;
  readonly value: string;
}

/**
 * A parsed tag: its pairs in tree order, each key at most once. Make one with {@link parseTag}
 * or {@link withPair}; the functions here rely on the order.
 *
 * @example
 *   parseTag('service.ack_cop.xiaomi').pairs // [{ key: 'cop', value: 'xiaomi' }, { key: 'service', value: 'ack' }]
 */
export interface Tag {
  readonly pairs: ReadonlyArray<TagPair>;
}

/** Builds a frozen tag with its pairs sorted into tree order. */
function makeTag(pairs: Iterable<TagPair>): Tag {
  const sorted = [...pairs].sort((a, b) => levelIndex(a.key) - levelIndex(b.key));
  return Object.freeze({ pairs: Object.freeze(sorted.map((p) => Object.freeze({ key: p.key, value: p.value }))) });
}

function invalid(input: string, why: string): NoopsError {
  return new NoopsError('NOOPS_E_TAG_INVALID', `${JSON.stringify(input)}: ${why}`);
}

/**
 * Parses and validates a tag written in any key order; whitespace around it is ignored.
 * Throws `NOOPS_E_TAG_INVALID` with a message that says what to fix.
 *
 * @example
 *   formatTag(parseTag(' job.api_service.ack_cop.xiaomi ')) // 'cop.xiaomi_service.ack_job.api'
 *   parseTag('cop.xiaomi_owt.Miliao') // throws: value "Miliao" of owt has upper-case letters; ...
 */
export function parseTag(input: string): Tag {
  const text = input.trim();
  if (text === '') throw invalid(text, 'the tag is empty; give key.value pairs joined by "_", e.g. cop.xiaomi_owt.miliao');
  const parts = text.split('_');
  const seen = new Map<Level, string>();
  const pairs: TagPair[] = [];
  parts.forEach((part, i) => {
    if (part === '') {
      throw invalid(text, `pair ${i + 1} is empty; join pairs with a single "_", with none at the start or end`);
    }
    const dot = part.indexOf('.');
    if (dot < 0) throw invalid(text, noDot(part, parts[i - 1]));
    const key = part.slice(0, dot);
    const value = part.slice(dot + 1);
    const why = checkKey(key) ?? checkValue(key, value);
    if (why !== null) throw invalid(text, why);
    const level = key as Level;
    const earlier = seen.get(level);
    if (earlier !== undefined) {
      throw invalid(text, `key "${key}" appears twice (${key}.${earlier} and ${key}.${value}); give each key once`);
    }
    seen.set(level, value);
    pairs.push({ key: level, value });
  });
  return makeTag(pairs);
}

/** The message for a pair without a ".", guessing the likely mistake. */
function noDot(part: string, previous: string | undefined): string {
  if ((LEVELS as readonly string[]).includes(part)) {
    return `pair "${part}" has no value; write it as ${part}.<${LEVEL_MEANING[part as Level]}>`;
  }
  if (previous?.includes('.')) {
    // "_" separates pairs, so a value with "_" in it splits into a pair without a key.
    return `pair "${part}" has no "."; values cannot contain "_", so "${previous}_${part}" reads as two pairs: use "-" instead of "_"`;
  }
  return `pair "${part}" has no "."; write each pair as key.value, e.g. cop.xiaomi`;
}

/**
 * The canonical string of a tag: its pairs in tree order, joined by `_`.
 *
 * @example
 *   formatTag({ pairs: [{ key: 'owt', value: 'miliao' }, { key: 'cop', value: 'xiaomi' }] }) // 'cop.xiaomi_owt.miliao'
 */
export function formatTag(tag: Tag): string {
  return makeTag(tag.pairs)
    .pairs.map((p) => `${p.key}.${p.value}`)
    .join('_');
}

/**
 * Parses and prints a tag: the canonical form of any valid spelling.
 *
 * @example
 *   canonicalTag('job.deploy-test_service.deploy-test_cluster.production-sd_pdl.com_owt.miliao_cop.xiaomi')
 *   // 'cop.xiaomi_owt.miliao_pdl.com_service.deploy-test_job.deploy-test_cluster.production-sd'
 */
export function canonicalTag(input: string): string {
  return formatTag(parseTag(input));
}

/**
 * True when `text` is a tag in its canonical form (as the server stores and sends tags).
 *
 * @example isCanonicalTag('cop.xiaomi_owt.miliao') // true; 'owt.miliao_cop.xiaomi' and 'Not a tag' are false
 */
export function isCanonicalTag(text: string): boolean {
  try {
    return canonicalTag(text) === text;
  } catch {
    return false;
  }
}

/**
 * The deepest level of a tag.
 *
 * @example
 *   levelOf(parseTag('cop.xiaomi_owt.miliao')) // 'owt'
 */
export function levelOf(tag: Tag): Level {
  const last = tag.pairs[tag.pairs.length - 1];
  if (last === undefined) throw new NoopsError('NOOPS_E_TAG_INVALID', 'the tag has no pairs; give at least one key.value pair');
  return last.key;
}

/**
 * True when the tag has every required level from `cop` down to its deepest level; only
 * `servicegroup` and `jobgroup` may be skipped. A complete tag names one node path.
 *
 * @example
 *   isComplete(parseTag('cop.xiaomi_owt.miliao_pdl.im_service.ack')) // true
 *   isComplete(parseTag('service.ack')) // false
 */
export function isComplete(tag: Tag): boolean {
  if (tag.pairs.length === 0) return false;
  const deepest = levelIndex(levelOf(tag));
  const present = new Set(tag.pairs.map((p) => p.key));
  return LEVELS.slice(0, deepest + 1).every((level) => OPTIONAL_LEVELS.has(level) || present.has(level));
}

/**
 * The value of one level, or `undefined` when the tag has no such pair.
 *
 * @example
 *   valueOf(parseTag('cop.xiaomi_owt.miliao'), 'owt') // 'miliao'
 */
export function valueOf(tag: Tag, level: Level): string | undefined {
  return tag.pairs.find((p) => p.key === level)?.value;
}

/**
 * The tag without its last (deepest) pair, or `null` for a one-pair tag.
 *
 * @example
 *   formatTag(parentOf(parseTag('cop.xiaomi_owt.miliao'))!) // 'cop.xiaomi'
 */
export function parentOf(tag: Tag): Tag | null {
  return tag.pairs.length <= 1 ? null : makeTag(tag.pairs.slice(0, -1));
}

/**
 * Every prefix of the tag, root first, ending with the tag itself.
 *
 * @example
 *   ancestorsAndSelf(parseTag('cop.x_owt.y')).map(formatTag) // ['cop.x', 'cop.x_owt.y']
 */
export function ancestorsAndSelf(tag: Tag): Tag[] {
  return tag.pairs.map((_, i) => makeTag(tag.pairs.slice(0, i + 1)));
}

/**
 * The prefix of the tag that ends at `level`, or `null` when the tag has no such pair.
 *
 * @example
 *   formatTag(truncateTo(parseTag('cop.x_owt.y_pdl.z_service.s_job.j_cluster.c'), 'job')!) // 'cop.x_owt.y_pdl.z_service.s_job.j'
 */
export function truncateTo(tag: Tag, level: Level): Tag | null {
  const at = tag.pairs.findIndex((p) => p.key === level);
  return at < 0 ? null : makeTag(tag.pairs.slice(0, at + 1));
}

/**
 * The tag with `key.value` added, or with the value of `key` replaced (deeper pairs are kept).
 * Throws `NOOPS_E_TAG_INVALID` when the value breaks the rules.
 *
 * @example
 *   formatTag(withPair(parseTag('cop.x_owt.y_pdl.z_service.s_job.j'), 'cluster', 'prod')) // '..._job.j_cluster.prod'
 */
export function withPair(tag: Tag, key: Level, value: string): Tag {
  const why = checkKey(key) ?? checkValue(key, value);
  if (why !== null) throw invalid(`${key}.${value}`, `cannot add it to ${formatTag(tag)}: ${why}`);
  return makeTag([...tag.pairs.filter((p) => p.key !== key), { key, value }]);
}

/**
 * True when `tag` is `ancestor` or lies below it. Compares pair by pair, not as strings, so
 * `cop.ab` is not under `cop.a`. Both may be written in any key order.
 *
 * @example
 *   isUnder('cop.x_owt.y_pdl.z', 'cop.x_owt.y') // true
 *   isUnder('cop.ab', 'cop.a') // false
 */
export function isUnder(tag: string, ancestor: string): boolean {
  const t = parseTag(tag).pairs;
  const a = parseTag(ancestor).pairs;
  return a.length <= t.length && a.every((p, i) => t[i].key === p.key && t[i].value === p.value);
}

/**
 * True when the tag has every one of `pairs` (in any order).
 *
 * @example
 *   hasPairs(parseTag('cop.x_owt.y'), [{ key: 'owt', value: 'y' }]) // true
 */
export function hasPairs(tag: Tag, pairs: Iterable<TagPair>): boolean {
  for (const p of pairs) if (valueOf(tag, p.key) !== p.value) return false;
  return true;
}
