/**
 * What a person (or the server, for them) can do to a host's watches: the actions behind
 * `noops ctl status|start|stop|restart|signal|log|cron|load|nuke` and the server's `restart` and
 * `logs` commands. Names and groups are resolved by names.ts; every action on a name that names
 * nothing is NOOPS_E_WATCH_UNKNOWN.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { NoopsError } from '../../errors/index.js';
import { followFiles, listLogFiles, tailLines, type CronStatus, type LogFile, type ProcessStatus } from '../../supervisor/index.js';
import type { Host } from '../host.js';
import { selectWatches, type WatchRef } from './names.js';

/** One watch as `status` shows it. */
export interface WatchView {
  /** TAG/NAME, or NAME for a standalone watch */
  id: string;
  kind: 'process' | 'cron';
  tag: string | null;
  name: string;
  version: string | null;
  /** a process's state; a cron's is `scheduled` or `running` */
  state: string;
  pid: number | null;
  /** ms since the epoch */
  startedAt: number | null;
  since: number | null;
  restarts: number;
  reason: string;
  retryAt: number | null;
  /** crons only */
  schedule?: string;
  nextRunAt?: number | null;
  lastRun?: CronStatus['lastRun'];
}

/** 60 s: a restart waits this long at most for its processes to leave `starting`. */
export const RESTART_WAIT_MS = 60_000;
/** 100 ms: how often a restart looks whether its processes are up. */
const RESTART_POLL_MS = 100;
/** The most lines `log -n` prints per file: enough for any screen, bounded for any log. */
export const MAX_LOG_LINES = 100_000;

export interface ControlOptions {
  /** stops every watch (and what else the agent wants stopped); default: the host's nuke */
  nuke?: () => Promise<void>;
}

export class Control {
  constructor(
    readonly host: Host,
    private readonly opts: ControlOptions = {},
  ) {}

  /** The watches `name` names (all without a name); throws NOOPS_E_WATCH_UNKNOWN when none. */
  select(name: string | undefined, kind?: 'process' | 'cron'): WatchRef[] {
    const all = this.host.refs().filter((r) => kind === undefined || r.kind === kind);
    const found = selectWatches(name, all);
    if (found.length === 0 && name !== undefined && name !== '' && name !== 'all') {
      throw new NoopsError('NOOPS_E_WATCH_UNKNOWN', `no ${kind ?? 'watch'} named "${name}" on this host`);
    }
    return found;
  }

  status(name?: string): WatchView[] {
    return this.select(name).map((r) => this.#view(r));
  }

  /** Starts stopped, exited or flapping processes (and forgets that a person stopped them). */
  start(name?: string): WatchView[] {
    const refs = this.select(name, 'process');
    for (const r of refs) {
      this.host.supervisor.resume(r.id);
      this.host.setHeld(r, false);
    }
    return refs.map((r) => this.#view(r));
  }

  /** Stops processes; they stay stopped (across agent restarts too) until started. */
  async stop(name?: string): Promise<WatchView[]> {
    const refs = this.select(name, 'process');
    for (const r of refs) this.host.setHeld(r, true);
    await Promise.all(refs.map((r) => this.host.supervisor.stop(r.id)));
    return refs.map((r) => this.#view(r));
  }

  /** Restarts processes and waits (at most RESTART_WAIT_MS) until each is past `starting`. */
  async restart(name?: string, waitMs = RESTART_WAIT_MS): Promise<WatchView[]> {
    const refs = this.select(name, 'process');
    for (const r of refs) this.host.setHeld(r, false);
    await Promise.all(refs.map((r) => this.host.supervisor.restart(r.id)));
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline && refs.some((r) => this.host.supervisor.status(r.id)?.state === 'starting')) await sleep(RESTART_POLL_MS);
    return refs.map((r) => this.#view(r));
  }

  signal(name: string | undefined, signal: string): WatchView[] {
    const refs = this.select(name, 'process');
    for (const r of refs) this.host.supervisor.signal(r.id, signal);
    return refs.map((r) => this.#view(r));
  }

  /** The log files of each watch named, numbered (god's `log NAME N` menu). */
  logFiles(name?: string): { id: string; files: LogFile[] }[] {
    return this.select(name).map((r) => ({ id: r.id, files: this.#files(r) }));
  }

  /**
   * The last `lines` lines of the watches' current logs (or of file `n` of the menu, for one
   * watch), with `==> FILE <==` headers when there are several files, as tail prints them.
   */
  logTail(name: string | undefined, lines: number, n?: number): string {
    const paths = this.#logPaths(name, n);
    const count = Math.min(Math.max(0, lines), MAX_LOG_LINES);
    return paths.map((p) => `${paths.length > 1 ? `==> ${p} <==\n` : ''}${tailLines(p, count)}`).join(paths.length > 1 ? '\n' : '');
  }

  /** Follows the watches' current logs (or file `n`) until `signal` aborts; headers as tail -f. */
  async *logFollow(name: string | undefined, signal: AbortSignal, n?: number): AsyncGenerator<string> {
    const paths = this.#logPaths(name, n);
    let last: string | undefined = paths.length === 1 ? paths[0] : undefined;
    for await (const chunk of followFiles(paths, signal)) {
      if (chunk.path !== last) yield `\n==> ${chunk.path} <==\n`;
      last = chunk.path;
      yield chunk.data;
    }
  }

  cron(name?: string): CronStatus[] {
    return this.select(name, 'cron')
      .map((r) => this.host.crons.status(r.id)!)
      .filter(Boolean);
  }

  /** Runs crons now (a cron still running from before is skipped, as on schedule). */
  runCron(name?: string): CronStatus[] {
    return this.select(name, 'cron')
      .map((r) => this.host.crons.runNow(r.id)!)
      .filter(Boolean);
  }

  /** Reads the host's watches file again (god's `load`). */
  load(): Promise<{ started: string[]; stopped: string[]; restarted: string[] }> {
    return this.host.reloadLocal();
  }

  /** Stops every watch (god's `nuke`); the caller ends the agent afterwards. */
  async nuke(): Promise<void> {
    await (this.opts.nuke ?? (() => this.host.nuke()))();
  }

  /** Recent events of the watches named (all without a name), oldest first. */
  events(name: string | undefined, limit: number): ReturnType<Host['eventReports']> {
    const ids = name === undefined || name === '' || name === 'all' ? null : new Set(this.select(name).map((r) => r.id));
    const all = this.host
      .eventReports(0, Number.MAX_SAFE_INTEGER)
      .filter((e) => ids === null || ids.has(e.tag === null ? e.name : `${e.tag}/${e.name}`));
    return all.slice(-Math.max(1, limit));
  }

  #files(r: WatchRef): LogFile[] {
    if (r.kind === 'cron') {
      const c = this.host.crons.status(r.id);
      return c ? listLogFiles(c.logs, 5) : [];
    }
    const s = this.host.supervisor.status(r.id);
    const keep = this.host.supervisor.spec(r.id)?.logs?.keep ?? 5;
    return s ? listLogFiles(s.logs, keep) : [];
  }

  #logPaths(name: string | undefined, n: number | undefined): string[] {
    const refs = this.select(name);
    if (n === undefined) {
      return refs.flatMap((r) => {
        const logs = r.kind === 'cron' ? this.host.crons.status(r.id)?.logs : this.host.supervisor.status(r.id)?.logs;
        return logs ? [logs.out, logs.err] : [];
      });
    }
    if (refs.length !== 1) {
      throw new NoopsError(
        'NOOPS_E_INPUT',
        `"${name ?? ''}" names ${refs.length} watches; a file number needs exactly one (e.g. TAG/NAME)`,
      );
    }
    const file = this.#files(refs[0]!).find((f) => f.n === n);
    if (!file)
      throw new NoopsError('NOOPS_E_INPUT', `${refs[0]!.id} has no log file ${n}; \`noops ctl log ${refs[0]!.id} --files\` lists them`);
    return [file.path];
  }

  #view(r: WatchRef): WatchView {
    if (r.kind === 'cron') {
      const c = this.host.crons.status(r.id);
      return {
        id: r.id,
        kind: 'cron',
        tag: r.tag,
        name: r.name,
        version: versionOf(c?.meta),
        state: c?.running ? 'running' : 'scheduled',
        pid: c?.running?.pid ?? null,
        startedAt: c?.running?.startedAt ?? null,
        since: null,
        restarts: 0,
        reason: c?.lastRun ? `last run ${c.lastRun.result}: ${c.lastRun.message}` : 'not run yet',
        retryAt: null,
        schedule: c?.schedule,
        nextRunAt: c?.nextRunAt ?? null,
        lastRun: c?.lastRun ?? null,
      };
    }
    const s: ProcessStatus | undefined = this.host.supervisor.status(r.id);
    return {
      id: r.id,
      kind: 'process',
      tag: r.tag,
      name: r.name,
      version: versionOf(s?.meta),
      state: s?.state ?? 'stopped',
      pid: s?.pid ?? null,
      startedAt: s?.startedAt ?? null,
      since: s?.since ?? null,
      restarts: s?.restarts ?? 0,
      reason: s?.reason ?? '',
      retryAt: s?.retryAt ?? null,
    };
  }
}

function versionOf(meta: Record<string, unknown> | undefined): string | null {
  return typeof meta?.version === 'string' ? meta.version : null;
}
