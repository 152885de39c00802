/**
 * One parser for the durations people type: `90`, `90s`, `15m`, `2h`, `1d`, `500ms`, `1.5m`.
 * Every flag, query parameter and file key that takes a duration reads it here, each with its own
 * rules: the units it takes, the unit of a bare number, its grammar (decimals, spaces), its bounds,
 * and the unit of its answer. Pure; it answers undefined for what it refuses, and the caller says
 * why with its own error (the flag's name, its code).
 *
 * @example
 *   parseDurationText('15m', { units: ['s', 'm', 'h', 'd'], bare: 's', answer: 's' }) // 900
 *   parseDurationText('500ms', { units: ['ms', 's', 'm'], bare: 's', answer: 'ms' })  // 500
 *   parseDurationText('2', { units: ['s'], answer: 's' })                              // undefined: a unit is required
 */

/** Each unit a duration may carry, in milliseconds. */
export const DURATION_UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A unit a duration may carry: `ms`, `s`, `m`, `h`, `d`. */
export type DurationUnit = keyof typeof DURATION_UNIT_MS;

/** What one caller accepts. Bounds are in the unit of the answer, inclusive. */
export interface DurationRules {
  /** the units a number may carry */
  units: readonly DurationUnit[];
  /** the unit of a number without one; absent: a unit is required */
  bare?: DurationUnit;
  /** the unit of the answer */
  answer: DurationUnit;
  /** spaces around the text are ignored (otherwise refused) */
  trim?: boolean;
  /** decimals (`1.5m`) and spaces between the number and its unit (`90 s`) are taken */
  decimals?: boolean;
  /** at most this many digits before any decimals */
  maxDigits?: number;
  /** the answer rounded to a whole number (of its unit) before the bounds are checked */
  round?: boolean;
  min?: number;
  max?: number;
  /** the answer must be a multiple of this */
  multipleOf?: number;
}

const GRAMMAR = /^(\d+)(?:\.(\d+))?(\s*)([a-z]*)$/;

/**
 * `text` as a duration in `rules.answer` units, or undefined when `rules` refuse it. Converted
 * exactly as each unit's factor says: a coarser unit multiplies (`1.5m` in s is 1.5 * 60), a finer
 * one divides (`500ms` in s is 500 / 1000).
 */
export function parseDurationText(text: string, rules: DurationRules): number | undefined {
  const m = GRAMMAR.exec(rules.trim ? text.trim() : text);
  if (!m) return undefined;
  const [, whole, fraction, space, unitText] = m as unknown as [string, string, string | undefined, string, string];
  if (!rules.decimals && (fraction !== undefined || space !== '')) return undefined;
  if (rules.maxDigits !== undefined && whole.length > rules.maxDigits) return undefined;
  const unit =
    unitText === '' ? rules.bare : (rules.units as readonly string[]).includes(unitText) ? (unitText as DurationUnit) : undefined;
  if (unit === undefined) return undefined;
  const n = Number(fraction === undefined ? whole : `${whole}.${fraction}`);
  const from = DURATION_UNIT_MS[unit];
  const to = DURATION_UNIT_MS[rules.answer];
  let value = from >= to ? n * (from / to) : n / (to / from);
  if (rules.round) value = Math.round(value);
  if (rules.min !== undefined && !(value >= rules.min)) return undefined;
  if (rules.max !== undefined && !(value <= rules.max)) return undefined;
  if (rules.multipleOf !== undefined && value % rules.multipleOf !== 0) return undefined;
  return value;
}
