/**
 * `noops metrics series [-t SELECTOR] [--host H] [--metric M] [--limit N] [--json]` and
 * `noops metrics history KEY [--since 1h] [--from SEC] [--to SEC] [--resolution raw|SECONDS] [--json]`:
 * the series the server stores and one series' history (docs/monitoring.md, "History").
 *
 *   KEY                          COUNTER  STEP  LAST_TS     LAST_VALUE
 *   web-1/load.1min              GAUGE    60    1700000040  0.42
 */
import type { Command } from 'commander';
import { allSeries, metricHistory, parseDurationText } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { json, table } from '../output.js';
import { apiOf } from './common.js';

/** `90s`, `15m`, `1h`, `7d` in seconds: a whole number and a unit, no bounds. */
export function parseSince(text: string): number {
  const seconds = parseDurationText(text, { units: ['s', 'm', 'h', 'd'], answer: 's' });
  if (seconds === undefined) throw new NoopsError('NOOPS_E_INPUT', `--since takes a number and a unit (s, m, h, d), not "${text}"`);
  return seconds;
}

function wholeOption(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new NoopsError('NOOPS_E_INPUT', `${name} must be a whole number, not "${text}"`);
  return n;
}

export function registerMetrics(p: Command): void {
  const metrics = p.command('metrics').description('metric series and their history, as the server stores them');
  metrics
    .command('series')
    .description('the series the server stores (those you may see): key, counter type, step, last point')
    .option('-t, --selector <selector>', 'only series of these nodes (e.g. owt=web,job=api)')
    .option('--host <host>', 'only series of this endpoint')
    .option('--metric <metric>', 'only this metric')
    .option('--limit <n>', 'at most this many (default: every one, read a page at a time)')
    .option('--json', 'print JSON: [{key, endpoint, metric, tags, counterType, step, lastTs, lastValue}]')
    .action(async (o: { selector?: string; host?: string; metric?: string; limit?: string; json?: boolean }, cmd: Command) => {
      const series = await allSeries(apiOf(cmd), {
        selector: o.selector,
        host: o.host,
        metric: o.metric,
        limit: wholeOption(o.limit, '--limit'),
      });
      if (o.json) return json(series);
      table(
        series.map((s) => ({ key: s.key, counter: s.counterType, step: s.step, lastTs: s.lastTs, lastValue: s.lastValue })),
        ['key', 'counter', 'step', 'lastTs', 'lastValue'],
      );
    });
  metrics
    .command('history <key>')
    .description("one series' history: [ts, avg, min, max] rows; COUNTER and DERIVE as rates per second")
    .option('--since <span>', 'from this long ago (e.g. 1h, 2d; default 1h)')
    .option('--from <seconds>', 'from this time (seconds since the epoch)')
    .option('--to <seconds>', 'until this time (default now)')
    .option('--resolution <r>', 'raw, or seconds per row (default: at most about 1,000 rows)')
    .option('--json', 'print JSON: {key, endpoint, metric, tags, counterType, resolution, points}')
    .action(async (key: string, o: { since?: string; from?: string; to?: string; resolution?: string; json?: boolean }, cmd: Command) => {
      const to = wholeOption(o.to, '--to') ?? Math.floor(Date.now() / 1000);
      const from = wholeOption(o.from, '--from') ?? to - parseSince(o.since ?? '1h');
      const resolution = o.resolution === undefined || o.resolution === 'raw' ? o.resolution : wholeOption(o.resolution, '--resolution');
      const h = await metricHistory(apiOf(cmd), { key, from, to, resolution: resolution as 'raw' | number | undefined });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(h, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${h.key} (${h.counterType}, ${h.resolution} s per row)\n`);
      table(
        h.points.map(([ts, avg, min, max]) => ({ time: new Date(ts * 1000).toISOString(), avg, min, max })),
        ['time', 'avg', 'min', 'max'],
      );
    });
}
