/**
 * The supervisor from anywhere that reaches the server: `noops restart`, `noops logs`,
 * `noops events`, `noops crons`. Restart and logs go to the hosts' agents through the server's
 * command channel (the server queues, the agent long-polls, the CLI long-polls the output).
 */
import type { Command } from 'commander';
import type { ApiClient } from '../../api/index.js';
import type { CommandView } from '../../api/index.js';
import type { WatchView } from '../../agent/ctl.js';
import { isErrorCode, NoopsError } from '../../errors/index.js';
import { statusExitCode, statusLine } from '../ctl-output.js';
import { ago, json, table } from '../output.js';
import { apiOf } from './common.js';

/** 20 s: how long the server holds a read of a command's output open when there is none. */
const READ_WAIT_MS = 20_000;

/** Reads a command until it ends, passing its output on; returns the ended command. */
async function untilEnded(api: ApiClient, cmd: CommandView, onOutput: (text: string) => void, signal?: AbortSignal): Promise<CommandView> {
  let view = cmd;
  let offset = 0;
  while (view.status === 'queued' || view.status === 'running') {
    view = await api.readCommand(cmd.id, offset, READ_WAIT_MS, { signal });
    if (view.output) onOutput(view.output);
    offset = view.offset;
  }
  if (view.error)
    throw new NoopsError(isErrorCode(view.error.code) ? view.error.code : 'NOOPS_E_INTERNAL', `${cmd.host}: ${view.error.message}`, {
      hint: view.error.hint,
    });
  return view;
}

/** The hosts that run instances under `tag` (filtered by --host), from the server's view. */
async function hostsOf(api: ApiClient, tag: string, host: string | undefined): Promise<string[]> {
  const rows = await api.instances(tag);
  const hosts = [...new Set(rows.map((r) => r.host))].filter((h) => host === undefined || h === host).sort();
  if (hosts.length === 0) {
    throw new NoopsError('NOOPS_E_NOT_FOUND', `no instance of ${tag} runs${host ? ` on ${host}` : ''}`, {
      hint: '`noops ps -t TAG` shows where instances run',
    });
  }
  return hosts;
}

export function registerRemote(p: Command): void {
  p.command('restart')
    .description('restart the processes of the instances under a tag, one host after the other, each waiting until they are up')
    .requiredOption('-t, --tag <tag>', 'a tag at any level (the instances under it)')
    .option('--host <host>', 'only on this host')
    .option('-p, --process <name>', 'only this process')
    .option('--json', 'print JSON')
    .action(async (o: { tag: string; host?: string; process?: string; json?: boolean }, cmd: Command) => {
      const api = apiOf(cmd);
      const all: (WatchView & { host: string })[] = [];
      for (const host of await hostsOf(api, o.tag, o.host)) {
        const start = await api.command({ host, action: 'restart', tag: o.tag, ...(o.process ? { process: o.process } : {}) });
        const done = await untilEnded(api, start, () => undefined);
        const views = (done.result ?? []) as WatchView[];
        all.push(...views.map((v) => ({ ...v, host })));
        if (!o.json) for (const v of views) process.stdout.write(`${host}: ${statusLine(v)}\n`);
        // One host at a time: a restart that leaves a host unwell stops before the next host.
        if (statusExitCode(views) !== 0) {
          if (o.json) json(all);
          throw new NoopsError('NOOPS_E_RESTART_FAILED', `${host}: not every process is up after the restart`);
        }
      }
      if (o.json) json(all);
    });

  p.command('logs')
    .description('the logs of the instances under a tag on one host (stdout and stderr of each process)')
    .requiredOption('-t, --tag <tag>', 'a tag at any level (the instances under it)')
    .option('--host <host>', 'the host (may be left out when one host runs the tag)')
    .option('-p, --process <name>', 'only this process')
    .option('-n, --lines <n>', 'lines of each file to print first', '10')
    .option('-f, --follow', 'keep printing what is appended, until Ctrl-C')
    .action(async (o: { tag: string; host?: string; process?: string; lines: string; follow?: boolean }, cmd: Command) => {
      const api = apiOf(cmd);
      const lines = Number(o.lines);
      if (!Number.isInteger(lines) || lines < 0) throw new NoopsError('NOOPS_E_INPUT', `--lines "${o.lines}" must be a whole number`);
      const hosts = await hostsOf(api, o.tag, o.host);
      if (hosts.length > 1)
        throw new NoopsError('NOOPS_E_INPUT', `${o.tag} runs on ${hosts.length} hosts (${hosts.join(', ')}); pick one with --host`);
      const start = await api.command({
        host: hosts[0]!,
        action: 'logs',
        tag: o.tag,
        lines,
        follow: o.follow ?? false,
        ...(o.process ? { process: o.process } : {}),
      });
      const stop = new AbortController();
      const onInt = (): void => stop.abort();
      process.once('SIGINT', onInt);
      try {
        await untilEnded(api, start, (t) => process.stdout.write(t), stop.signal);
      } catch (err) {
        if ((err as Error).name !== 'AbortError') throw err;
        await api.cancelCommand(start.id).catch(() => undefined); // the agent stops streaming
      } finally {
        process.removeListener('SIGINT', onInt);
      }
    });

  p.command('events')
    .description('what happened to supervised processes and crons: crashes, restarts, flapping, conditions, cron runs')
    .option('-t, --tag <tag>', 'only under this tag')
    .option('--host <host>', 'only on this host')
    .option('-n, --limit <n>', 'how many, newest last', '50')
    .option('--json', 'print JSON')
    .action(async (o: { tag?: string; host?: string; limit: string; json?: boolean }, cmd: Command) => {
      const rows = await apiOf(cmd).events({ tag: o.tag, host: o.host, limit: Number(o.limit) });
      if (o.json) return json(rows);
      table(
        rows.map((e) => ({ ...e, at: ago(e.at), what: `${e.tag ?? ''}${e.tag ? '/' : ''}${e.name}` })),
        ['at', 'host', 'what', 'kind', 'message'],
      );
    });

  p.command('crons')
    .description('the scheduled commands of the instances: schedule, next run, last result')
    .option('-t, --tag <tag>', 'only under this tag')
    .option('--host <host>', 'only on this host')
    .option('--json', 'print JSON')
    .action(async (o: { tag?: string; host?: string; json?: boolean }, cmd: Command) => {
      const rows = await apiOf(cmd).crons({ tag: o.tag, host: o.host });
      if (o.json) return json(rows);
      table(
        rows.map((c) => ({
          ...c,
          last: c.lastRun ? `${c.lastRun.result} ${ago(c.lastRun.endedAt)}: ${c.lastRun.message}` : '-',
          next: c.nextRunAt ?? '-',
          running: c.running ? 'yes' : 'no',
        })),
        ['host', 'tag', 'name', 'schedule', 'running', 'next', 'last', 'runs', 'skipped'],
      );
    });
}
