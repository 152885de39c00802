/**
 * The fields of a strategy, a nodata rule and a maintenance window, checked at the edge (the
 * routes) with messages that name the field. Pure.
 */
import { parseDurationText } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { parseFunc } from '../judge/index.js';

/** Falcon's operators (`=` and `==` are one: equal within 0.0001). */
export const OPERATORS = ['==', '=', '!=', '<', '<=', '>', '>='] as const;

/** Falcon's priorities P0-P6: 0 is the highest. */
export const MAX_PRIORITY = 6;

function invalid(message: string, hint?: string): NoopsError {
  return new NoopsError('NOOPS_E_STRATEGY_INVALID', message, hint === undefined ? undefined : { hint });
}

/**
 * Checks a judge function with the judge's own parser (`parseFunc`, Falcon's ParseFuncFromString),
 * so the edge and the judge agree by construction; answers it trimmed.
 *
 * @example checkFunc(' all(#3) ') // 'all(#3)'; checkFunc('all(3)') throws NOOPS_E_STRATEGY_INVALID
 */
export function checkFunc(func: string): string {
  const text = func.trim();
  try {
    parseFunc(text);
  } catch (err) {
    if (!(err instanceof NoopsError)) throw err;
    throw new NoopsError('NOOPS_E_STRATEGY_INVALID', `--func ${JSON.stringify(func)}: ${err.message}`, { hint: err.hint, cause: err });
  }
  return text;
}

/** Checks an operator. */
export function checkOp(op: string): string {
  if ((OPERATORS as readonly string[]).includes(op)) return op;
  throw invalid(`--op ${JSON.stringify(op)} is not an operator`, `give one of ${OPERATORS.join(' ')}`);
}

/** Checks a priority: an integer 0-6 (P0 highest). */
export function checkPriority(priority: number): number {
  if (Number.isInteger(priority) && priority >= 0 && priority <= MAX_PRIORITY) return priority;
  throw invalid(`--priority ${priority} is not one of Falcon's priorities`, 'give an integer from 0 (the highest, P0) to 6 (P6)');
}

/** Checks a strategy's most events in a row (`--max`): an integer of at least 0. */
export function checkMaxStep(maxStep: number): number {
  if (Number.isInteger(maxStep) && maxStep >= 0 && maxStep <= 2_147_483_647) return maxStep;
  throw invalid(`--max ${maxStep} is not a count`, 'give how many PROBLEM events in a row at most, an integer from 0 to 2147483647');
}

/** Checks a finite number (the right value, a mock value). */
export function checkNumber(value: number, field: string): number {
  if (Number.isFinite(value)) return value;
  throw invalid(`${field} ${value} is not a number`);
}

/** A run window: `HH:MM` both, in the server's local time; `from` after `to` crosses midnight. */
export interface RunWindow {
  from: string;
  to: string;
}

/**
 * Parses `HH:MM-HH:MM` (the end may be `24:00`); one that starts after it ends crosses midnight.
 *
 * @example parseRun('22:00-06:00') // { from: '22:00', to: '06:00' }
 */
export function parseRun(text: string): RunWindow {
  const m = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(text.trim());
  const bad = (): NoopsError =>
    invalid(
      `--run ${JSON.stringify(text)} is not a window`,
      "give HH:MM-HH:MM in the server's local time, e.g. 09:00-18:00 or 22:00-06:00 (crossing midnight)",
    );
  if (!m) throw bad();
  const [fh, fm, th, tm] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
  const fromOk = fh <= 23 && fm <= 59;
  const toOk = (th <= 23 && tm <= 59) || (th === 24 && tm === 0);
  if (!fromOk || !toOk) throw bad();
  if (fh * 60 + fm === th * 60 + tm)
    throw invalid(`--run ${text} is empty (it starts where it ends)`, 'leave --run out for a strategy that always runs');
  return { from: `${m[1]}:${m[2]}`, to: `${m[3]}:${m[4]}` };
}

/** Minutes since midnight of `HH:MM`. */
function minutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/**
 * Whether the window holds `now`, in the server's local time zone: from its start (included) to
 * its end (excluded); a window whose start is after its end runs across midnight.
 *
 * @example windowHolds({ from: '22:00', to: '06:00' }, new Date(2026, 0, 1, 23, 30)) // true
 */
export function windowHolds(window: RunWindow, now: Date): boolean {
  const m = now.getHours() * 60 + now.getMinutes();
  const from = minutes(window.from);
  const to = minutes(window.to);
  return from < to ? m >= from && m < to : m >= from || m < to;
}

/** The longest tag string kept. */
const MAX_TAGS_LENGTH = 512;

/**
 * Parses a strategy's tags `k=v,...` into Falcon's sorted string (api/falcon.ts falconTagString);
 * '' for none. Keys once each; neither keys nor values empty or holding `=` or `,`.
 *
 * @example checkTags('mount=/, fstype=ext4') // 'fstype=ext4,mount=/'
 */
export function checkTags(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return '';
  if (trimmed.length > MAX_TAGS_LENGTH) throw invalid(`--tags is longer than ${MAX_TAGS_LENGTH} characters`);
  const seen = new Map<string, string>();
  for (const part of trimmed.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? '' : part.slice(0, eq).trim();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (key === '' || value === '' || value.includes('=')) {
      throw invalid(
        `--tags ${JSON.stringify(text)}: "${part.trim()}" is not key=value`,
        'give tags as k=v pairs joined by ",", e.g. mount=/,fstype=ext4',
      );
    }
    if (seen.has(key)) throw invalid(`--tags ${JSON.stringify(text)}: key "${key}" appears twice`, 'give each key once');
    seen.set(key, value);
  }
  return [...seen.keys()]
    .sort()
    .map((k) => `${k}=${seen.get(k)}`)
    .join(',');
}

/** Checks a metric name: Falcon's (no spaces, 1-256 characters). */
export function checkMetric(metric: string): string {
  const text = metric.trim();
  if (text.length >= 1 && text.length <= 256 && !/\s/.test(text)) return text;
  throw invalid(
    `--metric ${JSON.stringify(metric)} is not a metric name`,
    'give a metric such as common.servicerunning or cpu.idle (no spaces)',
  );
}

/** The longest duration a window, nodata's silence or a step may have: ten years (a date stays valid, an integer column holds it). */
export const MAX_DURATION_SECONDS = 10 * 366 * 86_400;

/**
 * Parses a duration: `90`, `90s`, `15m`, `2h`, `1d` (seconds when no unit).
 *
 * @example parseDuration('2h', '--for') // 7200
 */
export function parseDuration(text: string, field: string): number {
  const seconds = parseDurationText(text, {
    units: ['s', 'm', 'h', 'd'],
    bare: 's',
    answer: 's',
    trim: true,
    min: 1,
    max: MAX_DURATION_SECONDS,
  });
  if (seconds === undefined) {
    throw invalid(
      `${field} ${JSON.stringify(text)} is not a duration of at most ten years`,
      'give a whole number of seconds, minutes, hours or days, e.g. 120s, 15m, 2h, 1d',
    );
  }
  return seconds;
}
