/**
 * Resolving what a user typed to one node of the tree: a complete tag names its node (new or
 * not); a partial tag names the one existing node it fits.
 */
import { NoopsError } from '../errors/index.js';
import { LEVELS, LEVEL_MEANING, OPTIONAL_LEVELS, levelIndex, type Level } from './levels.js';
import { ancestorsAndSelf, formatTag, hasPairs, isComplete, levelOf, parseTag, valueOf, type Tag } from './tag.js';

/**
 * How many candidates an ambiguity message lists; more would drown the hint.
 *
 * @example
 *   // 12 candidates: the message lists 10, then "and 2 more"
 */
export const MAX_CANDIDATES_SHOWN = 10;

/**
 * Resolves a tag against the existing nodes (canonical tags; their ancestors count as existing).
 *
 * - A complete tag resolves to its canonical form; `created` is true when that node is neither
 *   in `existing` nor an ancestor of one (the caller then creates it).
 * - A partial tag resolves to the one existing node at its deepest level that has all its pairs.
 *   None: `NOOPS_E_TAG_UNKNOWN`; several: `NOOPS_E_TAG_AMBIGUOUS`, listing the candidates.
 *
 * @example
 *   const nodes = ['cop.x_owt.y_pdl.z_service.ack_job.api'];
 *   resolveTag('job.api_service.ack', nodes) // { tag: 'cop.x_owt.y_pdl.z_service.ack_job.api', created: false }
 *   resolveTag('cop.x_owt.y_pdl.z_service.new', nodes) // { tag: 'cop.x_owt.y_pdl.z_service.new', created: true }
 */
export function resolveTag(input: string, existing: Iterable<string>): { tag: string; created: boolean } {
  const tag = parseTag(input);
  const known = withAncestors(existing);
  if (isComplete(tag)) {
    const canonical = formatTag(tag);
    return { tag: canonical, created: !known.has(canonical) };
  }
  const level = levelOf(tag);
  const candidates = [...known]
    .filter(([, node]) => levelOf(node) === level && hasPairs(node, tag.pairs))
    .map(([canonical]) => canonical)
    .sort();
  if (candidates.length === 1) return { tag: candidates[0], created: false };
  const given = formatTag(tag);
  if (candidates.length === 0) {
    throw new NoopsError(
      'NOOPS_E_TAG_UNKNOWN',
      `${JSON.stringify(input.trim())}: no ${level} node has ${given}; ` +
        `to create it, give the complete tag from cop down, e.g. ${completeExample(tag)}`,
    );
  }
  const shown = candidates.slice(0, MAX_CANDIDATES_SHOWN).join(', ');
  const more = candidates.length > MAX_CANDIDATES_SHOWN ? ` and ${candidates.length - MAX_CANDIDATES_SHOWN} more` : '';
  const differ = differingLevels(candidates.map(parseTag));
  throw new NoopsError(
    'NOOPS_E_TAG_AMBIGUOUS',
    `${JSON.stringify(input.trim())}: ${candidates.length} ${level} nodes have ${given}: ${shown}${more}; ` +
      `give more of the tag so that it names one (they differ in ${differ.join(', ')})`,
  );
}

/** Canonical tag -> parsed tag for every existing node and every ancestor of one. */
function withAncestors(existing: Iterable<string>): Map<string, Tag> {
  const known = new Map<string, Tag>();
  for (const text of existing) {
    for (const node of ancestorsAndSelf(parseTag(text))) known.set(formatTag(node), node);
  }
  return known;
}

/** The partial tag with placeholders for the required levels it lacks: `cop.<company>_owt.<owner-team>_...`. */
function completeExample(tag: Tag): string {
  const deepest = levelIndex(levelOf(tag));
  return LEVELS.slice(0, deepest + 1)
    .map((level) => {
      const value = valueOf(tag, level);
      if (value !== undefined) return `${level}.${value}`;
      return OPTIONAL_LEVELS.has(level) ? null : `${level}.<${LEVEL_MEANING[level]}>`;
    })
    .filter((pair): pair is string => pair !== null)
    .join('_');
}

/** The levels, in tree order, whose values are not the same in every candidate. */
function differingLevels(candidates: Tag[]): Level[] {
  return LEVELS.filter((level) => new Set(candidates.map((c) => valueOf(c, level))).size > 1);
}
