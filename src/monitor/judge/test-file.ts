/**
 * `noops strategy test`'s file, checked and run (pure: the CLI reads and parses the YAML or
 * JSON). A file holds one case or `cases: [...]`; each case runs in a judge of its own:
 *
 *   config?:    {remain: 11, minInterval: 300}
 *   strategies: [{id, metric, tags?, endpoint?, func, op, right, maxStep, priority}]
 *   series:     [{endpoint, metric, tags?, counterType?, pushes: [{ts, value, now?}]}]
 *   expect?:    [{series?, push?, strategy?, status?, currentStep?, leftValue?, eventTime?, priority?}]
 *
 * Order: the pushes of every series are merged by `now` (the judge's clock), ties kept in file
 * order (series by series, push by push), and judged one by one; every push is offered every
 * strategy of the case (the judge checks relevance as Falcon does).
 */
import { type CounterType, falconTagString, seriesKey } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { parseFunc } from './funcs.js';
import { Judge } from './judge.js';
import { DEFAULT_JUDGE_CONFIG, type EventStatus, type JudgeConfig, type JudgeStrategy } from './types.js';

/** One event as `--json` prints it: indexes into the file (0-based) and Falcon's event fields. */
export interface StrategyTestEvent {
  case: number;
  series: number;
  push: number;
  /** the strategy's `id`, as the file gives it */
  strategy: string | number;
  status: EventStatus;
  currentStep: number;
  leftValue: number;
  eventTime: number;
  priority: number;
}

/** The fields an `expect:` entry may give; each one given is compared (leftValue within 1e-9). */
export const EXPECT_FIELDS = ['series', 'push', 'strategy', 'status', 'currentStep', 'leftValue', 'eventTime', 'priority'] as const;

/** One push of a series. */
export interface TestPush {
  ts: number;
  value: number;
  now: number;
}

/** One series of a case. */
export interface TestSeries {
  endpoint: string;
  metric: string;
  tags: string;
  counterType: CounterType;
  pushes: TestPush[];
}

/** One case, checked. */
export interface TestCase {
  config: JudgeConfig;
  strategies: JudgeStrategy[];
  /** the ids as the file gives them (a number stays a number), by strategy */
  fileIds: (string | number)[];
  series: TestSeries[];
  expect?: Partial<Omit<StrategyTestEvent, 'case'>>[];
}

/** A difference between the events a case expects and those sent. */
export interface TestDifference {
  case: number;
  /** the index in the case's events (send order) */
  index: number;
  expected?: Partial<Omit<StrategyTestEvent, 'case'>>;
  actual?: StrategyTestEvent;
  /** the fields that differ (empty when one side is missing) */
  fields: string[];
}

const HINT = 'fix the strategy test file; the format is in docs/monitoring.md, "Testing a strategy: noops strategy test"';
const CASE_KEYS = new Set(['config', 'strategies', 'series', 'expect', 'name', 'description']);
const STRATEGY_KEYS = new Set(['id', 'metric', 'tags', 'endpoint', 'func', 'op', 'right', 'maxStep', 'priority', 'note']);
const SERIES_KEYS = new Set(['endpoint', 'metric', 'tags', 'counterType', 'pushes', 'name']);
const PUSH_KEYS = new Set(['ts', 'value', 'now']);
const OPS = new Set(['==', '=', '!=', '<', '<=', '>', '>=']);
const COUNTER_TYPES = new Set(['GAUGE', 'COUNTER', 'DERIVE']);

function fail(where: string, what: string, hint = HINT): never {
  throw new NoopsError('NOOPS_E_STRATEGY_TEST', `${where}: ${what}`, { hint });
}

function object(v: unknown, where: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(where, 'must be a mapping (key: value)');
  return v as Record<string, unknown>;
}

function list(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) fail(where, 'must be a list');
  return v;
}

function onlyKeys(o: Record<string, unknown>, allowed: ReadonlySet<string>, where: string): void {
  for (const k of Object.keys(o)) if (!allowed.has(k)) fail(where, `unknown field "${k}" (known: ${[...allowed].join(', ')})`);
}

function text(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') fail(where, 'must be a non-empty string');
  return v;
}

function number(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, 'must be a number');
  return v;
}

function integer(v: unknown, where: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(where, `must be a whole number, at least ${min}`);
  return v;
}

/** Tags given as an object, as Falcon's sorted `k=v,k=v` (a key or value may hold neither `,` nor `=` in a key). */
function tagsOf(v: unknown, where: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  const o = object(v, where);
  const out: Record<string, string> = {};
  for (const [k, raw] of Object.entries(o)) {
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') fail(`${where}.${k}`, 'must be a string');
    const value = String(raw);
    if (k === '' || k.includes(',') || k.includes('=') || value.includes(','))
      fail(`${where}.${k}`, 'a tag key holds no "," or "=", a value no ","');
    out[k] = value;
  }
  return out;
}

function checkStrategy(raw: unknown, where: string): { strategy: JudgeStrategy; fileId: string | number } {
  const o = object(raw, where);
  onlyKeys(o, STRATEGY_KEYS, where);
  const fileId = o.id;
  if ((typeof fileId !== 'string' || fileId === '') && (typeof fileId !== 'number' || !Number.isFinite(fileId))) {
    fail(`${where}.id`, 'must be a string or a number');
  }
  const func = text(o.func, `${where}.func`);
  try {
    parseFunc(func);
  } catch (err) {
    if (err instanceof NoopsError) fail(`${where}.func`, err.message, err.hint);
    throw err;
  }
  const op = text(o.op, `${where}.op`);
  if (!OPS.has(op)) fail(`${where}.op`, `"${op}" is not one of Falcon's operators: ${[...OPS].join(' ')}`);
  const strategy: JudgeStrategy = {
    id: String(fileId),
    metric: text(o.metric, `${where}.metric`),
    tags: tagsOf(o.tags, `${where}.tags`),
    func,
    op,
    right: number(o.right, `${where}.right`),
    maxStep: integer(o.maxStep, `${where}.maxStep`, 0),
    priority: integer(o.priority, `${where}.priority`, 0),
  };
  if (o.endpoint !== undefined) strategy.endpoint = text(o.endpoint, `${where}.endpoint`);
  if (typeof o.note === 'string') strategy.note = o.note;
  return { strategy, fileId };
}

function checkSeries(raw: unknown, where: string): TestSeries {
  const o = object(raw, where);
  onlyKeys(o, SERIES_KEYS, where);
  const counterType = o.counterType ?? 'GAUGE';
  if (typeof counterType !== 'string' || !COUNTER_TYPES.has(counterType)) fail(`${where}.counterType`, 'must be GAUGE, COUNTER or DERIVE');
  const pushes = list(o.pushes, `${where}.pushes`).map((p, i) => {
    const at = `${where}.pushes[${i}]`;
    const q = object(p, at);
    onlyKeys(q, PUSH_KEYS, at);
    const ts = integer(q.ts, `${at}.ts`, Number.MIN_SAFE_INTEGER);
    return { ts, value: number(q.value, `${at}.value`), now: q.now === undefined ? ts : number(q.now, `${at}.now`) };
  });
  return {
    endpoint: text(o.endpoint, `${where}.endpoint`),
    metric: text(o.metric, `${where}.metric`),
    tags: falconTagString(tagsOf(o.tags, `${where}.tags`)),
    counterType: counterType as CounterType,
    pushes,
  };
}

function checkExpect(raw: unknown, where: string): Partial<Omit<StrategyTestEvent, 'case'>> {
  const o = object(raw, where);
  onlyKeys(o, new Set([...EXPECT_FIELDS, 'case']), where);
  const out: Record<string, unknown> = {};
  for (const f of EXPECT_FIELDS) {
    const v = o[f];
    if (v === undefined) continue;
    if (f === 'status') {
      if (v !== 'PROBLEM' && v !== 'OK') fail(`${where}.status`, 'must be PROBLEM or OK');
    } else if (f === 'strategy') {
      if (typeof v !== 'string' && typeof v !== 'number') fail(`${where}.strategy`, 'must be a strategy id');
    } else {
      number(v, `${where}.${f}`);
    }
    out[f] = v;
  }
  return out;
}

function checkCase(raw: unknown, where: string): TestCase {
  const o = object(raw, where);
  onlyKeys(o, CASE_KEYS, where);
  // fields are named from the file's top: `strategies[0].func`, or `cases[1].strategies[0].func`
  const at = where === 'the file' ? '' : `${where}.`;
  const config: JudgeConfig = { ...DEFAULT_JUDGE_CONFIG };
  if (o.config !== undefined) {
    const c = object(o.config, `${at}config`);
    onlyKeys(c, new Set(['remain', 'minInterval']), `${at}config`);
    if (c.remain !== undefined) config.remain = integer(c.remain, `${at}config.remain`, 1);
    if (c.minInterval !== undefined) config.minInterval = number(c.minInterval, `${at}config.minInterval`);
  }
  const strategies: JudgeStrategy[] = [];
  const fileIds: (string | number)[] = [];
  const seen = new Set<string>();
  list(o.strategies, `${at}strategies`).forEach((s, i) => {
    const { strategy, fileId } = checkStrategy(s, `${at}strategies[${i}]`);
    if (seen.has(strategy.id)) fail(`${at}strategies[${i}].id`, `"${strategy.id}" is given twice: give each strategy its own id`);
    seen.add(strategy.id);
    strategies.push(strategy);
    fileIds.push(fileId);
  });
  const series = list(o.series, `${at}series`).map((s, i) => checkSeries(s, `${at}series[${i}]`));
  const out: TestCase = { config, strategies, fileIds, series };
  if (o.expect !== undefined) out.expect = list(o.expect, `${at}expect`).map((e, i) => checkExpect(e, `${at}expect[${i}]`));
  return out;
}

/** Checks a parsed file: one case, `cases: [...]`, or a list of cases. Throws NOOPS_E_STRATEGY_TEST naming where. */
export function checkStrategyTestFile(doc: unknown): TestCase[] {
  if (Array.isArray(doc)) return doc.map((c, i) => checkCase(c, `cases[${i}]`));
  const o = object(doc, 'the file');
  if (o.cases !== undefined) {
    onlyKeys(o, new Set(['cases']), 'the file');
    return list(o.cases, 'cases').map((c, i) => checkCase(c, `cases[${i}]`));
  }
  return [checkCase(o, 'the file')];
}

/** Runs every case in a judge of its own; the events in send order. */
export function runStrategyTest(cases: readonly TestCase[]): StrategyTestEvent[] {
  const out: StrategyTestEvent[] = [];
  cases.forEach((c, caseIndex) => {
    const judge = new Judge(c.config);
    const idOf = new Map<JudgeStrategy, string | number>(c.strategies.map((s, i) => [s, c.fileIds[i]!]));
    const order: { series: number; push: number; now: number }[] = [];
    c.series.forEach((s, si) => {
      s.pushes.forEach((p, pi) => {
        order.push({ series: si, push: pi, now: p.now });
      });
    });
    order.sort((a, b) => a.now - b.now); // stable: ties keep file order
    for (const step of order) {
      const s = c.series[step.series]!;
      const p = s.pushes[step.push]!;
      const point = { endpoint: s.endpoint, metric: s.metric, tags: s.tags, counterType: s.counterType, timestamp: p.ts, value: p.value };
      for (const e of judge.push(point, p.now, c.strategies, seriesKey(s.endpoint, s.metric, s.tags))) {
        out.push({
          case: caseIndex,
          series: step.series,
          push: step.push,
          strategy: idOf.get(e.strategy) ?? e.strategy.id,
          status: e.status,
          currentStep: e.currentStep,
          leftValue: e.leftValue,
          eventTime: e.eventTime,
          priority: e.priority,
        });
      }
    }
  });
  return out;
}

/** Compares each case's `expect:` (when given) with the events sent, position by position. */
export function compareExpected(cases: readonly TestCase[], events: readonly StrategyTestEvent[]): TestDifference[] {
  const diffs: TestDifference[] = [];
  cases.forEach((c, caseIndex) => {
    if (c.expect === undefined) return;
    const actual = events.filter((e) => e.case === caseIndex);
    for (let i = 0; i < Math.max(actual.length, c.expect.length); i++) {
      const want = c.expect[i];
      const got = actual[i];
      if (want === undefined || got === undefined) {
        const d: TestDifference = { case: caseIndex, index: i, fields: [] };
        if (want !== undefined) d.expected = want;
        if (got !== undefined) d.actual = got;
        diffs.push(d);
        continue;
      }
      const fields = EXPECT_FIELDS.filter((f) => {
        const w = want[f];
        if (w === undefined) return false;
        if (f === 'leftValue') return !(Math.abs((w as number) - got.leftValue) <= 1e-9);
        if (f === 'strategy') return String(w) !== String(got.strategy);
        return w !== got[f];
      });
      if (fields.length > 0) diffs.push({ case: caseIndex, index: i, expected: want, actual: got, fields });
    }
  });
  return diffs;
}
