/**
 * The judge's strategies as its hot path reads them (judge.ts): each strategy prepared once
 * (`Prepared`), what applies of a candidates array to one series (`Resolved`) with its flat
 * program, and Falcon's relevance of a strategy to a series (its tags on the series' tags).
 */
import type { OpKind, ParsedFunc } from './funcs.js';
import type { JudgePoint, JudgeStrategy } from './types.js';

/** A strategy as the hot path uses it, built once per strategy object. */
export interface Prepared {
  func: ParsedFunc;
  op: OpKind;
  /** number of the event key (`s_<id>` or `e_<id>`): last events are kept per series and this */
  slot: number;
  /** `s_<id>_` or `e_<id>_`: the event id is this and the series key */
  idPrefix: string;
  /** the strategy's tags as `k=v` strings, and apart */
  pairs: string[];
  tagKeys: string[];
  tagValues: string[];
}

/** The candidates that apply to one series, in judging order (host-bound first), each once. */
export interface Resolved {
  strategies: JudgeStrategy[];
  prepared: Prepared[];
  /** the most history points any of them reads */
  maxNeed: number;
  /**
   * What a point reads of each, flat (RULE_FIELDS numbers a rule: need, kind, limit, num, op,
   * right, maxStep, slot): one contiguous read instead of a chain of objects per point.
   */
  program: Float64Array;
}

/** Numbers per rule in `Resolved.program`. */
export const RULE_FIELDS = 8;

/** What a series meets when no candidate applies. */
export const NOTHING_APPLIES: Resolved = { strategies: [], prepared: [], maxNeed: 0, program: new Float64Array(0) };

/** The flat program of prepared strategies (Resolved.program). */
export function programOf(prepared: readonly Prepared[], strategies: readonly JudgeStrategy[]): Float64Array {
  const out = new Float64Array(prepared.length * RULE_FIELDS);
  for (let i = 0; i < prepared.length; i++) {
    const p = prepared[i]!;
    const at = i * RULE_FIELDS;
    out[at] = p.func.need;
    out[at + 1] = p.func.kind;
    out[at + 2] = p.func.limit;
    out[at + 3] = p.func.num;
    out[at + 4] = p.op;
    out[at + 5] = strategies[i]!.right;
    out[at + 6] = strategies[i]!.maxStep;
    out[at + 7] = p.slot;
  }
  return out;
}

const COMMA = 44;

/** True when `tags` (`k=v,k=v`) holds the whole pair `pair` (`k=v`). */
export function hasPair(tags: string, pair: string): boolean {
  let at = tags.indexOf(pair);
  while (at >= 0) {
    const end = at + pair.length;
    if ((at === 0 || tags.charCodeAt(at - 1) === COMMA) && (end === tags.length || tags.charCodeAt(end) === COMMA)) return true;
    at = tags.indexOf(pair, at + 1);
  }
  return false;
}

/** True when `tags` has the key `key` (given as `key=`). */
export function hasKey(tags: string, keyEq: string): boolean {
  let at = tags.indexOf(keyEq);
  while (at >= 0) {
    if (at === 0 || tags.charCodeAt(at - 1) === COMMA) return true;
    at = tags.indexOf(keyEq, at + 1);
  }
  return false;
}

/**
 * A flat copy of a string built by concatenation (V8 keeps those as trees of pieces, which a
 * Map compares piece by piece on every lookup: a quarter of the judge's time at 1M series).
 */
export function flat(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}

/** Falcon's relevance: every tag of the strategy on the series; for a tag-bound one a tag `endpoint` matches the endpoint (unless the series has such a tag). */
export function related(p: Prepared, point: JudgePoint, hostBound: boolean): boolean {
  const tags = point.tags;
  for (let i = 0; i < p.pairs.length; i++) {
    if (!hostBound && p.tagKeys[i] === 'endpoint' && !hasKey(tags, 'endpoint=')) {
      if (p.tagValues[i] !== point.endpoint) return false;
    } else if (!hasPair(tags, p.pairs[i]!)) {
      return false;
    }
  }
  return true;
}
