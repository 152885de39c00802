/**
 * Names, pure: what a caller types (a selector or a tag) into a `Selector`, and a DNS name under
 * `noops.` into the selector it stands for. A node's DNS name is its tag's levels reversed, each
 * as `VALUE.LEVEL`: `cop.acme_owt.web_pdl.shop` is `shop.pdl.web.owt.acme.cop.noops.`; a name
 * higher up stands for every instance beneath it, and `_PROCESS._tcp.NAME` narrows to one process.
 */
import { NoopsError } from '../errors/index.js';
import { LEVELS, formatSelector, parseSelector, parseTag, type Level, type Selector } from '../tree/index.js';

/** The zone every name of noops is under (no trailing dot). */
export const ZONE = 'noops';

/** The label under the zone that holds hosts' own names: `web1.host.noops.` is web1's address. */
export const HOST_LABEL = 'host';

/**
 * A selector from what a caller typed: `cop=acme,service=shop` (a selector) or
 * `cop.acme_service.shop` (a tag: the pairs it has). Throws `NOOPS_E_SELECTOR_INVALID` or
 * `NOOPS_E_TAG_INVALID` saying what to fix.
 *
 * @example
 *   formatSelector(namingSelector('cop.acme_service.shop')) // 'cop=acme,service=shop'
 */
export function namingSelector(input: string): Selector {
  const text = input.trim();
  if (text === '' || text.includes('=')) return parseSelector(text);
  const tag = parseTag(text);
  return parseSelector(tag.pairs.map((p) => `${p.key}=${p.value}`).join(','));
}

/** The canonical text of what a caller typed (a selector or a tag), as stored and compared. */
export function canonicalSelector(input: string): string {
  return formatSelector(namingSelector(input));
}

/**
 * The DNS name of a tag (or a selector's pairs), fully qualified.
 *
 * @example
 *   dnsNameOf('cop.acme_owt.web_pdl.shop') // 'shop.pdl.web.owt.acme.cop.noops.'
 */
export function dnsNameOf(tagOrSelector: string): string {
  const pairs = [...namingSelector(tagOrSelector).pairs].sort((a, b) => LEVELS.indexOf(a.key) - LEVELS.indexOf(b.key));
  const labels = pairs.reverse().flatMap((p) => [p.value, p.key]);
  return `${[...labels, ZONE].join('.')}.`;
}

/** What a DNS name asks for. */
export type DnsQuestion =
  /** not under `noops.`: refused */
  | { kind: 'foreign' }
  /** under `noops.` but no name noops gives */
  | { kind: 'unknown' }
  /** a host's own address */
  | { kind: 'host'; host: string }
  /** the instances beneath a node (or matching the pairs), of one process when given */
  | { kind: 'node'; selector: Selector; process?: string };

/**
 * Reads a DNS name (any case, with or without the final dot).
 *
 * @example
 *   dnsQuestion('_web._tcp.shop.pdl.acme.cop.noops.') // { kind: 'node', selector: cop=acme,pdl=shop, process: 'web' }
 *   dnsQuestion('example.com') // { kind: 'foreign' }
 */
export function dnsQuestion(name: string): DnsQuestion {
  const labels = name.toLowerCase().replace(/\.$/, '').split('.');
  if (labels.at(-1) !== ZONE) return { kind: 'foreign' };
  labels.pop();
  if (labels.length >= 2 && labels.at(-1) === HOST_LABEL) {
    return { kind: 'host', host: labels.slice(0, -1).join('.') };
  }
  let process: string | undefined;
  if (labels.length >= 2 && labels[0]!.startsWith('_') && labels[1] === '_tcp') {
    process = labels[0]!.slice(1);
    labels.splice(0, 2);
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(process)) return { kind: 'unknown' }; // a process name (release/fields.ts)
  }
  if (labels.length % 2 !== 0) return { kind: 'unknown' };
  const pairs: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < labels.length; i += 2) {
    const value = labels[i]!;
    const level = labels[i + 1]!;
    if (!(LEVELS as readonly string[]).includes(level) || seen.has(level)) return { kind: 'unknown' };
    seen.add(level as Level);
    pairs.push(`${level}=${value}`);
  }
  try {
    return { kind: 'node', selector: parseSelector(pairs.join(',')), ...(process !== undefined && { process }) };
  } catch (err) {
    if (err instanceof NoopsError) return { kind: 'unknown' };
    throw err;
  }
}
