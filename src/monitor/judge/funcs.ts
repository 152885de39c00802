/**
 * Open-Falcon's judge functions (modules/judge/store/func.go), with their exact semantics:
 * `all`, `max`, `min`, `sum`, `avg`, `diff`, `pdiff`, `lookup(#num,limit)`, `stddev`,
 * `kdiff(#num,limit)`, `kpdiff(#num,limit)`, and the operator check with Falcon's tolerance.
 *
 * Each function reads a history prepared by the judge: `values[0]` the newest (the point just
 * pushed), `values[i]` older ones; for COUNTER and DERIVE these are rates. No allocation: the
 * result goes into a reused `FuncResult`.
 */
import { NoopsError } from '../../errors/index.js';

/** The functions, as numbers so that the hot path switches on an integer. */
export enum FuncKind {
  All = 0,
  Max = 1,
  Min = 2,
  Sum = 3,
  Avg = 4,
  Diff = 5,
  PDiff = 6,
  Lookup = 7,
  StdDev = 8,
  KDiff = 9,
  KPDiff = 10,
}

/** The operators, as numbers; `Other` (any other string) never triggers, as in Falcon. */
export enum OpKind {
  Eq = 0,
  Ne = 1,
  Lt = 2,
  Le = 3,
  Gt = 4,
  Ge = 5,
  Other = 6,
}

/** A parsed `func` string: which function and its arguments, and how many points it reads. */
export interface ParsedFunc {
  kind: FuncKind;
  /** the function's name, as written */
  name: string;
  /** Falcon's `Limit`: `#N` of all/max/...; the second argument of lookup, kdiff and kpdiff */
  limit: number;
  /** Falcon's `Num`: the first argument of lookup, kdiff and kpdiff (0 for the others) */
  num: number;
  /** the history points (or rates) the function asks for: limit, limit+1 (diff, pdiff) or limit+num (kdiff, kpdiff) */
  need: number;
}

const KINDS: Record<string, FuncKind> = {
  all: FuncKind.All,
  max: FuncKind.Max,
  min: FuncKind.Min,
  sum: FuncKind.Sum,
  avg: FuncKind.Avg,
  diff: FuncKind.Diff,
  pdiff: FuncKind.PDiff,
  lookup: FuncKind.Lookup,
  stddev: FuncKind.StdDev,
  kdiff: FuncKind.KDiff,
  kpdiff: FuncKind.KPDiff,
};

const TWO_ARGS: ReadonlySet<FuncKind> = new Set([FuncKind.Lookup, FuncKind.KDiff, FuncKind.KPDiff]);

const HINT =
  'write the function as Falcon does: all(#3), max(#3), min(#3), sum(#3), avg(#3), diff(#3), pdiff(#3), stddev(#10), lookup(#2,3), kdiff(#3,3) or kpdiff(#3,3)';

/** Go's strconv.Atoi on a decimal: an optional sign and digits, nothing else. */
function atoi(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Parses a strategy's `func` as Falcon's ParseFuncFromString reads it: the name is what comes
 * before `(#`, the arguments are the comma-separated integers between `#` and the last
 * character. Throws NOOPS_E_STRATEGY_FUNC (with a hint) for what Falcon would refuse or crash
 * on: no `#`, an argument that is not an integer, an unknown name, a missing second argument.
 */
export function parseFunc(func: string): ParsedFunc {
  const bad = (why: string): NoopsError => new NoopsError('NOOPS_E_STRATEGY_FUNC', `func "${func}" ${why}`, { hint: HINT });
  if (typeof func !== 'string' || func === '') throw bad('is empty');
  const hash = func.indexOf('#');
  if (hash < 1 || !func.endsWith(')') || func[hash - 1] !== '(') throw bad('is not NAME(#ARGS)');
  const name = func.slice(0, hash - 1);
  const args: number[] = [];
  for (const part of func.slice(hash + 1, -1).split(',')) {
    const n = atoi(part);
    if (n === undefined) throw bad(`has "${part}" where a whole number belongs`);
    if (n < 1) throw bad(`has ${n}: every argument is at least 1 (Falcon's judge never fires, or crashes, below)`);
    args.push(n);
  }
  const kind = Object.hasOwn(KINDS, name) ? KINDS[name] : undefined;
  if (kind === undefined) throw bad(`names an unknown function "${name}"`);
  if (TWO_ARGS.has(kind)) {
    if (args.length < 2) throw bad(`needs two arguments, as ${name}(#3,3)`);
    const num = args[0]!;
    const limit = args[1]!;
    return { kind, name, limit, num, need: kind === FuncKind.Lookup ? limit : limit + num };
  }
  const limit = args[0]!;
  const need = kind === FuncKind.Diff || kind === FuncKind.PDiff ? limit + 1 : limit;
  return { kind, name, limit, num: 0, need };
}

/** The operator's code; an unknown operator is `Other` (Falcon's checkIsTriggered returns false). */
export function opKind(op: string): OpKind {
  switch (op) {
    case '=':
    case '==':
      return OpKind.Eq;
    case '!=':
      return OpKind.Ne;
    case '<':
      return OpKind.Lt;
    case '<=':
      return OpKind.Le;
    case '>':
      return OpKind.Gt;
    case '>=':
      return OpKind.Ge;
    default:
      return OpKind.Other;
  }
}

/** Falcon's checkIsTriggered: `==` and `!=` with a tolerance of 0.0001. */
export function triggered(left: number, op: OpKind, right: number): boolean {
  switch (op) {
    case OpKind.Eq:
      return Math.abs(left - right) < 0.0001;
    case OpKind.Ne:
      return Math.abs(left - right) > 0.0001;
    case OpKind.Lt:
      return left < right;
    case OpKind.Le:
      return left <= right;
    case OpKind.Gt:
      return left > right;
    case OpKind.Ge:
      return left >= right;
    default:
      return false;
  }
}

/** What a function computed: reused between calls. */
export interface FuncResult {
  leftValue: number;
  isTriggered: boolean;
}

/**
 * Runs one function on `values` (newest first; at least `f.need` of them, the caller checked
 * "enough") and writes leftValue and isTriggered into `out`, exactly as Falcon's Compute does.
 */
export function compute(f: ParsedFunc, op: OpKind, right: number, values: Float64Array, out: FuncResult): void {
  computeKind(f.kind, f.limit, f.num, op, right, values, out);
}

/** `compute` with the parsed function's fields given apart (the judge keeps them in typed arrays). */
export function computeKind(
  kind: FuncKind,
  limit: number,
  num: number,
  op: OpKind,
  right: number,
  values: Float64Array,
  out: FuncResult,
): void {
  let left = 0;
  let hit = false;
  switch (kind) {
    case FuncKind.Max: {
      left = values[0]!;
      for (let i = 1; i < limit; i++) if (left < values[i]!) left = values[i]!;
      hit = triggered(left, op, right);
      break;
    }
    case FuncKind.Min: {
      left = values[0]!;
      for (let i = 1; i < limit; i++) if (left > values[i]!) left = values[i]!;
      hit = triggered(left, op, right);
      break;
    }
    case FuncKind.All: {
      hit = true;
      for (let i = 0; i < limit; i++) {
        hit = triggered(values[i]!, op, right);
        if (!hit) break;
      }
      left = values[0]!;
      break;
    }
    case FuncKind.Lookup: {
      left = values[0]!;
      for (let n = 0, i = 0; i < limit; i++) {
        if (triggered(values[i]!, op, right) && ++n === num) {
          hit = true;
          break;
        }
      }
      break;
    }
    case FuncKind.Sum:
    case FuncKind.Avg: {
      let sum = 0;
      for (let i = 0; i < limit; i++) sum += values[i]!;
      left = kind === FuncKind.Sum ? sum : sum / limit;
      hit = triggered(left, op, right);
      break;
    }
    case FuncKind.Diff:
    case FuncKind.PDiff: {
      const first = values[0]!;
      const pdiff = kind === FuncKind.PDiff;
      for (let i = 1; i < limit + 1; i++) {
        const older = values[i]!;
        if (pdiff) {
          if (older === 0) continue;
          left = ((first - older) / older) * 100.0;
        } else {
          left = first - older;
        }
        hit = triggered(left, op, right);
        if (hit) break;
      }
      break;
    }
    case FuncKind.StdDev: {
      // Falcon's utils.ComputeStdDeviation: the population deviation (divides by n) of the
      // `limit` newest points, the current one included; the operator is not used.
      left = values[0]!;
      let sum = 0;
      for (let i = 0; i < limit; i++) sum += values[i]!;
      const mean = sum / limit;
      let squares = 0;
      for (let i = 0; i < limit; i++) {
        const d = values[i]! - mean;
        squares += d * d;
      }
      const std = Math.sqrt(squares / limit);
      const upper = mean + right * std;
      const lower = mean - right * std;
      hit = left < lower || left > upper;
      break;
    }
    case FuncKind.KDiff:
    case FuncKind.KPDiff: {
      const percent = kind === FuncKind.KPDiff;
      const last = limit + num - 1;
      for (let i = 0; i < num; i++) {
        hit = false;
        if (values[i] === 0) break;
        const base = values[last - i]!;
        for (let j = 0; j < limit; j++) {
          const newer = values[j]!;
          left = percent ? ((newer - base) / newer) * 100.0 : newer - base;
          hit = triggered(left, op, right);
          if (!hit) break;
        }
        if (!hit) break;
      }
      break;
    }
  }
  out.leftValue = left;
  out.isTriggered = hit;
}
