/**
 * `noops alarms [--status problem|ok|all] [-t SELECTOR] [--json]`: the events the judge sent,
 * newest first (by default the PROBLEM events of series still in trouble); `noops alarm ack ID`;
 * `noops alarm callback add URL [--priority N]`, `ls`, `rm ID` (docs/monitoring.md).
 *
 *   ID  STATUS   P  ENDPOINT  METRIC                 TAGS                 STEP  VALUE  TIME                 NOTE
 *   12  PROBLEM  2  web-1     common.servicerunning  cop=acme,...,process=web  1/3   0  2026-01-01 10:00:00  down
 */
import type { Command } from 'commander';
import { ackAlarm, addCallback, listAlarms, listCallbacks, removeCallback, type AlarmView } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { json, table } from '../output.js';
import { apiOf } from './common.js';
import { commandGroup } from './groups.js';

function idOf(raw: string, what: string): number {
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id <= 0)
    throw new NoopsError('NOOPS_E_INPUT', `${what} "${raw}" is not an id (a whole number; the ls command lists them)`);
  return id;
}

/** Prints alarms as a table (time in UTC, `ack` for acknowledged ones, `silenced` for those not delivered). */
export function printAlarms(alarms: readonly AlarmView[], out: NodeJS.WritableStream = process.stdout): void {
  table(
    alarms.map((a) => ({
      id: a.id,
      status: a.status,
      p: a.priority,
      endpoint: a.endpoint,
      metric: a.metric,
      tags: a.tags || '-',
      step: a.currentStep,
      value: a.leftValue,
      time: new Date(a.eventTime * 1000).toISOString().slice(0, 19).replace('T', ' '),
      flags: [a.acknowledged ? 'ack' : '', a.silenced ? 'silenced' : ''].filter(Boolean).join(',') || '-',
      note: a.note,
    })),
    ['id', 'status', 'p', 'endpoint', 'metric', 'tags', 'step', 'value', 'time', 'flags', 'note'],
    out,
  );
}

export function registerAlarms(p: Command): void {
  p.command('alarms')
    .description('alarms, newest first: by default the PROBLEM events of series still in trouble')
    .option('--status <status>', 'problem (default), ok or all', 'problem')
    .option('-t, --tag <selector>', 'only alarms of this node and beneath it (a tag or a selector cop=x,owt=y)')
    .option('--limit <n>', 'at most this many (default 200)')
    .option(
      '--json',
      'print JSON: [{id, strategy, endpoint, metric, tags, status, currentStep, leftValue, eventTime, priority, note, acknowledged, ...}]',
    )
    .action(async (o: { status: string; tag?: string; limit?: string; json?: boolean }, cmd: Command) => {
      if (!['problem', 'ok', 'all'].includes(o.status))
        throw new NoopsError('NOOPS_E_INPUT', `--status is problem, ok or all, not "${o.status}"`);
      const { alarms } = await listAlarms(apiOf(cmd), {
        status: o.status,
        selector: o.tag,
        limit: o.limit === undefined ? undefined : idOf(o.limit, '--limit'),
      });
      if (o.json) return json(alarms);
      printAlarms(alarms);
    });

  const alarm = commandGroup(p, 'alarm', 'acknowledge alarms; the callbacks alarms are delivered to');
  alarm
    .command('ack <id>')
    .description('acknowledge an alarm (noops alarms lists them)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const a = await ackAlarm(apiOf(cmd), idOf(id, 'alarm'));
      process.stdout.write(`acknowledged alarm ${a.id} (${a.status} ${a.endpoint} ${a.metric})\n`);
    });

  const callback = alarm.command('callback').description("HTTP callbacks alarms are POSTed to, in Falcon's fields (the server's admin)");
  callback
    .command('add <url>')
    .description('deliver alarms to URL (POST, form-encoded)')
    .option('--priority <n>', 'only alarms of this priority and more urgent (0 is the most urgent); default every priority')
    .action(async (url: string, o: { priority?: string }, cmd: Command) => {
      const priority = o.priority === undefined ? undefined : Number(o.priority);
      if (priority !== undefined && (!Number.isInteger(priority) || priority < 0))
        throw new NoopsError('NOOPS_E_INPUT', `--priority "${o.priority}" is not 0, 1, 2, ...`);
      const c = await addCallback(apiOf(cmd), { url, priority });
      process.stdout.write(`callback ${c.id}: ${c.url}${c.priority === null ? '' : ` (priority ${c.priority} and more urgent)`}\n`);
    });
  callback
    .command('ls')
    .description('the callbacks')
    .option('--json', 'print JSON: [{id, url, priority, by, createdAt}]')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const { callbacks } = await listCallbacks(apiOf(cmd));
      if (o.json) return json(callbacks);
      table(
        callbacks.map((c) => ({ ...c, priority: c.priority ?? 'all' })),
        ['id', 'url', 'priority', 'by', 'createdAt'],
      );
    });
  callback
    .command('rm <id>')
    .description('remove a callback (what it was still owed is dropped)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const c = await removeCallback(apiOf(cmd), idOf(id, 'callback'));
      process.stdout.write(`removed callback ${c.id} (${c.url})\n`);
    });
}
