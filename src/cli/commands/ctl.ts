/**
 * `noops ctl`: god's commands on one host, over the agent's control socket (ROOT/run/ctl.sock,
 * reachable by root and the agent's user only). NAME|GROUP: TAG/NAME, NAME, a TAG, or nothing
 * for every watch (see src/agent/control/names.ts).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { CtlClient, type WatchView } from '../../agent/ctl.js';
import type { CronStatus, LogFile } from '../../supervisor/index.js';
import { localTime, statusExitCode, statusLine } from '../ctl-output.js';
import { json, table } from '../output.js';
import { defaultAgentRoot } from './daemons.js';

function ctlOf(cmd: Command): CtlClient {
  const { root } = cmd.optsWithGlobals<{ root?: string }>();
  return new CtlClient(resolve(root ?? defaultAgentRoot()));
}

function printStatus(watches: WatchView[], asJson: boolean | undefined): void {
  if (asJson) json(watches);
  else for (const w of watches) process.stdout.write(`${statusLine(w)}\n`);
  process.exitCode = statusExitCode(watches);
}

export function registerCtl(p: Command): void {
  const ctl = p
    .command('ctl')
    .description("control this host's watches through its agent (god's status, start, stop, restart, signal, log, cron, load, nuke)")
    .option('--root <dir>', "the agent's root (default /var/lib/noops/agent as root, ~/.noops/agent otherwise)");

  ctl
    .command('status')
    .description('name[pid]: state (start time) per watch; exit 0 all up, 1 some stopped or exited, 2 some in trouble')
    .argument('[name]', 'TAG/NAME, NAME, a TAG, or nothing for all')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, o: { json?: boolean }, cmd: Command) => {
      printStatus(await ctlOf(cmd).get<WatchView[]>('/v1/status', { name }), o.json);
    });

  for (const [action, what] of [
    ['start', 'start stopped, exited or flapping processes'],
    ['stop', 'stop processes (they stay stopped, across agent restarts too, until started)'],
    ['restart', 'restart processes and wait until they are up'],
  ] as const) {
    ctl
      .command(action)
      .description(what)
      .argument('[name]', 'TAG/NAME, NAME, a TAG, or nothing for all')
      .option('--json', 'print JSON')
      .action(async (name: string | undefined, o: { json?: boolean }, cmd: Command) => {
        printStatus(await ctlOf(cmd).post<WatchView[]>(`/v1/${action}`, { name }), o.json);
      });
  }

  ctl
    .command('signal')
    .description('send a signal to the whole process group of each process named')
    .argument('<name>', 'TAG/NAME, NAME or a TAG')
    .argument('<signal>', 'HUP, USR1, SIGTERM, ...')
    .action(async (name: string, signal: string, _o: unknown, cmd: Command) => {
      printStatus(await ctlOf(cmd).post<WatchView[]>('/v1/signal', { name, signal }), false);
      process.exitCode = 0;
    });

  ctl
    .command('log')
    .description('follow the logs of a watch live (tail -F); --files lists its files, N shows file N of that list')
    .argument('[name]', 'TAG/NAME, NAME, a TAG, or nothing for all')
    .argument('[n]', 'a file number from --files')
    .option('-n, --lines <n>', 'lines of each file to print first', '10')
    .option('--files', 'list the log files, numbered')
    .option('--no-follow', 'print and exit')
    .action(
      async (name: string | undefined, n: string | undefined, o: { lines: string; files?: boolean; follow: boolean }, cmd: Command) => {
        const client = ctlOf(cmd);
        if (o.files) {
          const sets = await client.get<{ id: string; files: LogFile[] }[]>('/v1/log/files', { name });
          for (const set of sets) {
            process.stdout.write(`${set.id}:\n`);
            for (const f of set.files)
              process.stdout.write(`  ${String(f.n).padStart(2)}. ${f.name}  ${f.size} bytes  ${localTime(f.modifiedAt)}\n`);
          }
          return;
        }
        // A numbered file is usually a rotated one, which never grows: it is printed, not followed.
        const follow = o.follow && n === undefined;
        const stop = new AbortController();
        process.once('SIGINT', () => stop.abort());
        await client
          .stream('/v1/log', { name, lines: o.lines, file: n, follow: follow ? 1 : undefined }, (t) => process.stdout.write(t), stop.signal)
          .catch((err: Error) => {
            if (err.name !== 'AbortError') throw err;
          });
      },
    );

  ctl
    .command('cron')
    .description('the scheduled commands: schedule, next run, last result; --run runs them now')
    .argument('[name]', 'TAG/NAME, NAME, a TAG, or nothing for all')
    .option('--run', 'run now (skipped if still running)')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, o: { run?: boolean; json?: boolean }, cmd: Command) => {
      const client = ctlOf(cmd);
      const rows = o.run ? await client.post<CronStatus[]>('/v1/cron/run', { name }) : await client.get<CronStatus[]>('/v1/cron', { name });
      if (o.json) return json(rows);
      table(
        rows.map((c) => ({
          name: c.id,
          schedule: c.schedule,
          running: c.running ? `pid ${c.running.pid}` : '-',
          next: c.nextRunAt === null ? '-' : localTime(c.nextRunAt),
          last: c.lastRun ? `${c.lastRun.result}: ${c.lastRun.message}` : '-',
          runs: c.runs,
          skipped: c.skipped,
        })),
        ['name', 'schedule', 'running', 'next', 'last', 'runs', 'skipped'],
      );
    });

  ctl
    .command('events')
    .description('what happened to the watches: crashes, restarts, flapping, conditions, cron runs')
    .argument('[name]', 'TAG/NAME, NAME, a TAG, or nothing for all')
    .option('-n, --limit <n>', 'how many, newest last', '50')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, o: { limit: string; json?: boolean }, cmd: Command) => {
      const rows = await ctlOf(cmd).get<{ at: string; tag: string | null; name: string; kind: string; message: string }[]>('/v1/events', {
        name,
        limit: o.limit,
      });
      if (o.json) return json(rows);
      for (const e of rows)
        process.stdout.write(`${localTime(Date.parse(e.at))}  ${e.tag ? `${e.tag}/` : ''}${e.name}  ${e.kind}: ${e.message}\n`);
    });

  ctl
    .command('load')
    .description("read the host's watches file again: start new watches, stop removed ones, restart changed ones")
    .action(async (_o: unknown, cmd: Command) => {
      const r = await ctlOf(cmd).post<{ started: string[]; stopped: string[]; restarted: string[] }>('/v1/load');
      process.stdout.write(
        `started: ${r.started.join(', ') || '-'}\nstopped: ${r.stopped.join(', ') || '-'}\nrestarted: ${r.restarted.join(', ') || '-'}\n`,
      );
    });

  ctl
    .command('nuke')
    .description('stop every watch of this host, then the agent itself')
    .action(async (_o: unknown, cmd: Command) => {
      await ctlOf(cmd).post('/v1/nuke');
      process.stdout.write('every watch stopped; the agent is exiting\n');
    });
}
