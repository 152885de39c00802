/**
 * The one duration parser, with each caller's rules: the same answers as the parsers it replaces
 * (kept here as they were, as references), on every input of a corpus built to probe their edges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type DurationRules, parseDurationText } from './duration.js';

/** The rules each caller passes (the lead's swaps use these exact objects). */
const RULES = {
  /** monitor/strategies/check.ts parseDuration: `--for`, `--after` (s), 1 s to ten years */
  strategy: { units: ['s', 'm', 'h', 'd'], bare: 's', answer: 's', trim: true, min: 1, max: 10 * 366 * 86_400 },
  /** rollout/deploy-policy.ts parseDuration's text (s; its bound, a day, stays in its schema) */
  deployPolicy: { units: ['ms', 's', 'm', 'h'], bare: 's', answer: 's', trim: true, decimals: true },
  /** cli/commands/common.ts parseSeconds (s), no bounds */
  cliSeconds: { units: ['s', 'm', 'h', 'd'], bare: 's', answer: 's', trim: true },
  /** agent/metrics/agent-metrics.ts parseMetricsEvery (ms): whole seconds from 1 s to 1 h */
  metricsEvery: {
    units: ['ms', 's', 'm', 'h'],
    bare: 's',
    answer: 'ms',
    trim: true,
    decimals: true,
    round: true,
    min: 1000,
    max: 3_600_000,
    multipleOf: 1000,
  },
  /** cli/commands/metrics.ts parseSince (s): a unit required */
  since: { units: ['s', 'm', 'h', 'd'], answer: 's' },
  /** server/routes/naming.ts `wait` (ms): at most 7 digits (the route caps it at NAMING_MAX_WAIT_MS) */
  namingWait: { units: ['ms', 's', 'm'], bare: 's', answer: 'ms', maxDigits: 7 },
} satisfies Record<string, DurationRules>;

/** The parsers as they were before this one, each answering undefined where it refused. */
const BEFORE: Record<keyof typeof RULES, (text: string) => number | undefined> = {
  strategy(text) {
    const m = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
    const seconds = m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'] : Number.NaN;
    return !Number.isSafeInteger(seconds) || seconds <= 0 || seconds > 10 * 366 * 86_400 ? undefined : seconds;
  },
  deployPolicy(raw) {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(raw.trim());
    if (!m) return undefined;
    const n = Number(m[1]);
    const unit = m[2] ?? 's';
    return unit === 'ms' ? n / 1000 : unit === 'm' ? n * 60 : unit === 'h' ? n * 3600 : n;
  },
  cliSeconds(raw) {
    const m = /^(\d+)(s|m|h|d)?$/.exec(raw.trim());
    if (!m) return undefined;
    return Number(m[1]) * (m[2] === 'd' ? 86_400 : m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
  },
  metricsEvery(raw) {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(raw.trim());
    const n = m ? Number(m[1]) : Number.NaN;
    const unit = m?.[2] ?? 's';
    const ms = Math.round(unit === 'ms' ? n : unit === 'm' ? n * 60_000 : unit === 'h' ? n * 3_600_000 : n * 1000);
    return ms >= 1000 && ms <= 3_600_000 && ms % 1000 === 0 ? ms : undefined;
  },
  since(text) {
    const m = /^(\d+)([smhd])$/.exec(text);
    return m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's']! : undefined;
  },
  namingWait(text) {
    if (!/^\d{1,7}(ms|s|m)?$/.test(text)) return undefined;
    const n = Number.parseInt(text, 10);
    return text.endsWith('ms') ? n : text.endsWith('m') ? n * 60_000 : n * 1000;
  },
};

/** Inputs at every edge: units, none, decimals, spaces, bounds, digits, junk. */
function corpus(): string[] {
  const numbers = [
    '0',
    '1',
    '2',
    '59',
    '60',
    '90',
    '999',
    '1000',
    '1500',
    '3600',
    '86400',
    '316224000',
    '316224001',
    '1234567',
    '12345678',
  ];
  const fractions = ['0.5', '1.5', '1.0', '0.001', '0.9996', '1.0004', '2.25', '59.9999'];
  const units = ['', 'ms', 's', 'm', 'h', 'd', 'w', 'S', 'M', 'sec', 'min'];
  const out = new Set<string>([
    '',
    ' ',
    'h',
    's',
    '.5s',
    '1.',
    '1.s',
    '-1s',
    '+1s',
    '1e3',
    '0x10',
    '1_000',
    '１s',
    '1s ',
    ' 1s',
    ' 1 s ',
    '1  m',
    '1\tm',
    'Infinity',
  ]);
  out.add('9'.repeat(400));
  out.add(`${'9'.repeat(20)}s`);
  for (const n of [...numbers, ...fractions])
    for (const u of units) {
      out.add(`${n}${u}`);
      out.add(`${n} ${u}`);
      out.add(` ${n}${u} `);
    }
  return [...out];
}

for (const name of Object.keys(RULES) as (keyof typeof RULES)[]) {
  test(`${name}: the same answer as before on every input of the corpus`, () => {
    const differ: string[] = [];
    for (const text of corpus()) {
      const now = parseDurationText(text, RULES[name]);
      const was = BEFORE[name](text);
      if (!Object.is(now, was)) differ.push(`${JSON.stringify(text)}: ${now} (was ${was})`);
    }
    assert.deepEqual(differ, []);
  });
}

test('what each caller takes, in its own words', () => {
  assert.equal(parseDurationText('2h', RULES.strategy), 7200);
  assert.equal(parseDurationText('0', RULES.strategy), undefined, 'a strategy window is at least a second');
  assert.equal(parseDurationText('1.5m', RULES.deployPolicy), 90);
  assert.equal(parseDurationText('500 ms', RULES.deployPolicy), 0.5);
  assert.equal(parseDurationText('1d', RULES.cliSeconds), 86_400);
  assert.equal(parseDurationText('1.5s', RULES.cliSeconds), undefined);
  assert.equal(parseDurationText('1m', RULES.metricsEvery), 60_000);
  assert.equal(parseDurationText('1500ms', RULES.metricsEvery), undefined, 'whole seconds only');
  assert.equal(parseDurationText('2h', RULES.metricsEvery), undefined, 'at most an hour');
  assert.equal(parseDurationText('7d', RULES.since), 604_800);
  assert.equal(parseDurationText('90', RULES.since), undefined, 'a unit is required');
  assert.equal(parseDurationText('500ms', RULES.namingWait), 500);
  assert.equal(parseDurationText('2h', RULES.namingWait), undefined);
});
