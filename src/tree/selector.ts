/**
 * Selectors, Open-Falcon style: `cop=xiaomi,owt=miliao` matches every node and instance whose
 * tag has all of those pairs.
 */
import { NoopsError } from '../errors/index.js';
import { checkKey, checkValue, levelIndex, type Level } from './levels.js';
import { hasPairs, parseTag, type Tag, type TagPair } from './tag.js';

/**
 * A parsed selector: the pairs a tag must have, in tree order. No pairs matches everything.
 *
 * @example
 *   parseSelector('owt=miliao, cop=xiaomi').pairs // [{ key: 'cop', value: 'xiaomi' }, { key: 'owt', value: 'miliao' }]
 */
export interface Selector {
  readonly pairs: ReadonlyArray<TagPair>;
}

function invalid(input: string, why: string): NoopsError {
  return new NoopsError('NOOPS_E_SELECTOR_INVALID', `${JSON.stringify(input)}: ${why}`);
}

/**
 * Parses `key=value` pairs joined by `,`; spaces around pairs, keys and values are ignored.
 * Keys and values follow the tag rules. An empty string is the selector that matches everything.
 * Throws `NOOPS_E_SELECTOR_INVALID` with a message that says what to fix.
 *
 * @example
 *   matches(parseSelector('cop=xiaomi, pdl=im'), 'cop.xiaomi_owt.miliao_pdl.im') // true
 *   parseSelector('') // { pairs: [] }: matches every tag
 */
export function parseSelector(input: string): Selector {
  const text = input.trim();
  if (text === '') return Object.freeze({ pairs: Object.freeze([]) });
  const seen = new Map<Level, string>();
  const pairs: TagPair[] = [];
  text.split(',').forEach((raw, i) => {
    const part = raw.trim();
    if (part === '') throw invalid(text, `pair ${i + 1} is empty; join pairs with a single ",", with none at the start or end`);
    const eq = part.indexOf('=');
    if (eq < 0) {
      const hint = part.includes('.') ? ` (selectors use "=" where tags use ".", and "," where tags use "_")` : '';
      throw invalid(text, `pair "${part}" has no "="; write each pair as key=value, e.g. cop=xiaomi${hint}`);
    }
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    const why = checkKey(key, '=') ?? checkValue(key, value, '=');
    if (why !== null) throw invalid(text, why);
    const level = key as Level;
    const earlier = seen.get(level);
    if (earlier !== undefined) {
      // A node has one value per level, so two values for one key could never match.
      throw invalid(text, `key "${key}" appears twice (${key}=${earlier} and ${key}=${value}); give each key once`);
    }
    seen.set(level, value);
    pairs.push(Object.freeze({ key: level, value }));
  });
  pairs.sort((a, b) => levelIndex(a.key) - levelIndex(b.key));
  return Object.freeze({ pairs: Object.freeze(pairs) });
}

/**
 * The canonical string of a selector: its pairs in tree order, joined by `,`.
 *
 * @example
 *   formatSelector(parseSelector(' pdl=im , cop=xiaomi ')) // 'cop=xiaomi,pdl=im'
 */
export function formatSelector(selector: Selector): string {
  return [...selector.pairs]
    .sort((a, b) => levelIndex(a.key) - levelIndex(b.key))
    .map((p) => `${p.key}=${p.value}`)
    .join(',');
}

/**
 * True when the tag has every pair of the selector. A string tag is parsed first (any key
 * order; an invalid one throws `NOOPS_E_TAG_INVALID`).
 *
 * @example
 *   matches(parseSelector('owt=miliao'), 'cop.xiaomi_owt.miliao_pdl.im') // true
 *   matches(parseSelector('owt=miliao'), 'cop.xiaomi') // false
 */
export function matches(selector: Selector, tag: Tag | string): boolean {
  return hasPairs(typeof tag === 'string' ? parseTag(tag) : tag, selector.pairs);
}
