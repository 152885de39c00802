/**
 * `noops strategy test FILE [--json]`: runs the judge itself (Open-Falcon's semantics, no server)
 * on the series a file gives and prints the events it sends, as `promtool test rules` does. A case
 * with `expect:` makes the command exit 1 on any difference, shown on stderr.
 *
 *   CASE  SERIES                    PUSH  STRATEGY  STATUS   STEP  LEFT_VALUE  EVENT_TIME  PRIORITY
 *   0     0 h1/cpu.idle             2     1         PROBLEM  1     1           180         2
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { NoopsError } from '../../errors/index.js';
import {
  checkStrategyTestFile,
  compareExpected,
  runStrategyTest,
  type StrategyTestEvent,
  type TestCase,
  type TestDifference,
} from '../../monitor/judge/index.js';
import { json, table } from '../output.js';
import { commandGroup } from './groups.js';

const FORMAT_HINT = 'fix the strategy test file; the format is in docs/monitoring.md, "Testing a strategy: noops strategy test"';

/** Reads and checks a strategy test file (YAML or JSON, which YAML reads too). */
export function readStrategyTestFile(path: string): TestCase[] {
  let body: string;
  try {
    body = readFileSync(path, 'utf8');
  } catch (err) {
    throw new NoopsError('NOOPS_E_STRATEGY_TEST', `cannot read ${path}: ${(err as Error).message}`, {
      hint: 'give the path of a readable YAML or JSON file',
    });
  }
  let doc: unknown;
  try {
    doc = parseYaml(body);
  } catch (err) {
    throw new NoopsError('NOOPS_E_STRATEGY_TEST', `${path} is neither YAML nor JSON: ${(err as Error).message}`, { hint: FORMAT_HINT });
  }
  return checkStrategyTestFile(doc);
}

/** `h1/cpu.idle/k=v`: a series as the table shows it. */
function seriesName(c: TestCase, index: number): string {
  const s = c.series[index]!;
  return `${index} ${s.endpoint}/${s.metric}${s.tags === '' ? '' : `/${s.tags}`}`;
}

/** Prints the events as a table. */
export function printEvents(
  cases: readonly TestCase[],
  events: readonly StrategyTestEvent[],
  out: NodeJS.WritableStream = process.stdout,
): void {
  table(
    events.map((e) => ({
      case: e.case,
      series: seriesName(cases[e.case]!, e.series),
      push: e.push,
      strategy: e.strategy,
      status: e.status,
      step: e.currentStep,
      leftValue: e.leftValue,
      eventTime: e.eventTime,
      priority: e.priority,
    })),
    ['case', 'series', 'push', 'strategy', 'status', 'step', 'leftValue', 'eventTime', 'priority'],
    out,
  );
}

function describe(e: object | undefined): string {
  return e === undefined ? 'no event' : JSON.stringify(e);
}

/** One line per difference: which case, which event, what was expected and what was sent. */
export function formatDifferences(diffs: readonly TestDifference[]): string {
  return diffs
    .map((d) => {
      const head = `case ${d.case}, event ${d.index}:`;
      if (d.expected === undefined) return `${head} not expected, sent ${describe(d.actual)}`;
      if (d.actual === undefined) return `${head} expected ${describe(d.expected)}, none sent`;
      return `${head} ${d.fields.join(', ')} differ: expected ${describe(d.expected)}, sent ${describe(d.actual)}`;
    })
    .join('\n');
}

export function registerStrategyTest(program: Command): void {
  commandGroup(program, 'strategy', 'alert strategies bound to the tree')
    .command('test <file>')
    .description(
      "run Open-Falcon's judge on the series of a YAML or JSON file (no server) and print the events it sends; a case's expect: makes it exit 1 on any difference",
    )
    .option('--json', 'print JSON: [{case, series, push, strategy, status, currentStep, leftValue, eventTime, priority}] in send order')
    .action((file: string, o: { json?: boolean }) => {
      const cases = readStrategyTestFile(file);
      const events = runStrategyTest(cases);
      if (o.json) json(events);
      else printEvents(cases, events);
      const diffs = compareExpected(cases, events);
      if (diffs.length > 0) {
        process.stderr.write(`noops: the events differ from expect: (${diffs.length})\n${formatDifferences(diffs)}\n`);
        process.exitCode = 1;
      } else if (!o.json && cases.some((c) => c.expect !== undefined)) {
        process.stdout.write('every expect: holds\n');
      }
    });
}
