/**
 * Scheduled commands under supervision (god's `cron`, the host's crontab replaced): each runs
 * on its cron schedule with its job's environment, in its own process group, with its output in
 * its log files, killed at its timeout, and never twice at once (a run that comes while the last
 * one still runs is skipped and counted). The last result of each is kept.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { NoopsError } from '../errors/index.js';
import { killRemnants } from './process-record.js';
import { rotateOrWarn } from './logs.js';
import { procAlive, procStartTime, signalGroup } from './proc.js';
import { cronSchedule, type Schedule } from '../release/schedule.js';
import { logPaths, spawnProcess } from './spawn.js';
import { DEFAULT_LOG_POLICY, DEFAULT_POLL_MS, type EventKind, type LogPolicy, type WatchSpec } from './types.js';
import { claimFolders, spawnIdentity, type RunAs } from './user.js';

/** One scheduled command. */
export interface CronSpec {
  /** unique within a CronRunner, e.g. "<tag>/<cron>" */
  id: string;
  /** cron syntax: 5 fields, 6 with seconds first, or @hourly, @daily, ... */
  schedule: string;
  /** IANA time zone of the schedule; default the host's */
  timezone?: string;
  command: string;
  cwd: string;
  env: Record<string, string>;
  logDir: string;
  logName: string;
  /** ms a run may take before its group gets SIGTERM (SIGKILL 5 s later); 0: no limit */
  timeoutMs: number;
  user?: string;
  /** false: never run as uid 0 (see WatchSpec.allowRoot) */
  allowRoot?: boolean;
  /** folders a run must be able to write (see WatchSpec.writable) */
  writable?: string[];
  logs?: LogPolicy;
  meta?: Record<string, unknown>;
}

/** How a run ended. */
export interface CronRun {
  startedAt: number;
  endedAt: number;
  code: number | null;
  signal: string | null;
  /** `unknown`: an adopted run, whose exit status only its parent (a previous agent) could know */
  result: 'ok' | 'failed' | 'timed out' | 'could not start' | 'unknown';
  message: string;
}

/** A plain snapshot of one scheduled command. */
export interface CronStatus {
  id: string;
  schedule: string;
  timezone: string | null;
  command: string;
  /** the run in progress */
  running: { pid: number; startTime: number | null; startedAt: number } | null;
  /** ms since the epoch; null when the schedule never fires again */
  nextRunAt: number | null;
  lastRun: CronRun | null;
  /** runs since it was added */
  runs: number;
  /** runs skipped because the previous one was still running */
  skipped: number;
  logs: { out: string; err: string };
  meta: Record<string, unknown>;
}

export interface CronRunnerEvents {
  /** something worth recording: a run ended, failed, or was skipped */
  event: [id: string, kind: EventKind, message: string];
  /** a run started or ended */
  change: [CronStatus];
}

/** 5 s: a run that got SIGTERM at its timeout has this long to finish before SIGKILL. */
export const CRON_KILL_GRACE_MS = 5_000;
/** 24 h: timers are re-armed at least daily (setTimeout cannot wait longer than 24.8 days). */
const MAX_TIMER_MS = 86_400_000;

interface Job {
  spec: CronSpec;
  schedule: Schedule;
  runAs: RunAs | undefined;
  timer?: NodeJS.Timeout;
  running: CronStatus['running'];
  child: ChildProcess | null;
  kill?: NodeJS.Timeout;
  poll?: NodeJS.Timeout;
  timedOut: boolean;
  nextRunAt: number | null;
  lastRun: CronRun | null;
  runs: number;
  skipped: number;
  removed: boolean;
}

/**
 * @example
 *   const crons = new CronRunner();
 *   crons.on('event', (id, kind, message) => console.log(id, kind, message));
 *   crons.add({ id: 'shop/report', schedule: '0 3 * * *', command: './report.sh', cwd, env,
 *     logDir, logName: 'cron-report', timeoutMs: 3_600_000 });
 */
export class CronRunner extends EventEmitter<CronRunnerEvents> {
  readonly #jobs = new Map<string, Job>();

  constructor(private readonly options: { pollMs?: number; killGraceMs?: number } = {}) {
    super();
  }

  /**
   * Schedules a command. Throws NOOPS_E_INPUT for a bad schedule, a bad user or an id that is
   * scheduled. An id that was removed while its run still goes (a new release of the cron) is
   * scheduled again, and that run still counts: the new schedule never starts one beside it.
   */
  add(spec: CronSpec): CronStatus {
    const existing = this.#jobs.get(spec.id);
    if (existing !== undefined && !existing.removed) throw new NoopsError('NOOPS_E_INPUT', `cron "${spec.id}" is already scheduled`);
    const fixed = {
      spec: { ...spec, env: { ...spec.env }, meta: { ...(spec.meta ?? {}) } },
      schedule: cronSchedule(spec.schedule, spec.timezone),
      runAs: spawnIdentity(spec.user, spec.allowRoot),
    };
    claimFolders(spec.writable ?? [], fixed.runAs);
    const job: Job =
      existing === undefined
        ? { ...fixed, running: null, child: null, timedOut: false, nextRunAt: null, lastRun: null, runs: 0, skipped: 0, removed: false }
        : Object.assign(existing, fixed, { removed: false });
    this.#jobs.set(spec.id, job);
    this.#arm(job);
    return view(job);
  }

  /**
   * Takes over a run a previous runner left going (pid and start time, as `status()` gave
   * them), so that the schedule does not start a second one beside it. A run that is gone is ignored.
   */
  adoptRun(id: string, run: { pid: number; startTime: number; startedAt: number }): void {
    const job = this.#jobs.get(id);
    if (job === undefined || job.running !== null || !procAlive(run.pid, run.startTime)) return;
    job.running = { ...run };
    job.poll = setInterval(() => {
      if (procAlive(run.pid, run.startTime)) return;
      clearInterval(job.poll);
      this.#finished(job, null, null, `adopted run ${run.pid} ended (exit status unknown)`);
    }, this.options.pollMs ?? DEFAULT_POLL_MS);
  }

  /** Runs a command now (unless it is running: then the run is skipped). */
  runNow(id: string): CronStatus | undefined {
    const job = this.#jobs.get(id);
    if (job === undefined) return undefined;
    this.#fire(job, 'started by request');
    return view(job);
  }

  /** Unschedules a command; a run in progress finishes (and is recorded) first. */
  remove(id: string): void {
    const job = this.#jobs.get(id);
    if (job === undefined) return;
    clearTimeout(job.timer);
    job.removed = true;
    if (job.running === null) this.#jobs.delete(id);
  }

  /** Unschedules everything and kills the runs in progress (their whole groups). */
  stopAll(): void {
    for (const job of this.#jobs.values()) {
      clearTimeout(job.timer);
      job.removed = true;
      if (job.running !== null) killRemnants(job.running.pid);
    }
  }

  /** Lets go of everything without killing runs (an agent upgrade); the snapshots say what ran. */
  detach(): CronStatus[] {
    const out = [...this.#jobs.values()].map(view);
    for (const job of this.#jobs.values()) {
      clearTimeout(job.timer);
      clearTimeout(job.kill);
      clearInterval(job.poll);
      job.child?.removeAllListeners('exit');
      job.child?.unref();
    }
    this.#jobs.clear();
    return out;
  }

  status(id: string): CronStatus | undefined {
    const job = this.#jobs.get(id);
    return job === undefined ? undefined : view(job);
  }

  list(): CronStatus[] {
    return [...this.#jobs.values()].map(view);
  }

  #arm(job: Job): void {
    clearTimeout(job.timer);
    if (job.removed) return;
    const now = Date.now();
    const next = job.schedule.next(new Date(now));
    job.nextRunAt = next === null ? null : next.getTime();
    if (next === null) return;
    const wait = next.getTime() - now;
    job.timer = setTimeout(
      () => {
        if (Date.now() >= next.getTime() - 1) this.#fire(job, 'on schedule');
        this.#arm(job);
      },
      Math.min(Math.max(wait, 0), MAX_TIMER_MS),
    );
  }

  #fire(job: Job, why: string): void {
    if (job.running !== null) {
      job.skipped++;
      this.emit(
        'event',
        job.spec.id,
        'cron-skipped',
        `skipped a run (${why}): the run started ${new Date(job.running.startedAt).toISOString()} (pid ${job.running.pid}) is still going`,
      );
      return;
    }
    const spec = job.spec;
    const paths = logPaths(spec);
    // A failure is said once and retried before the next run; it must not stop this one.
    for (const p of [paths.out, paths.err]) rotateOrWarn(p, spec.logs ?? DEFAULT_LOG_POLICY);
    const startedAt = Date.now();
    let child: ChildProcess;
    try {
      child = spawnProcess({ ...spec, stopSignal: 'SIGTERM', stopTimeoutMs: 0, startGraceMs: 0 } as WatchSpec, job.runAs);
    } catch (err) {
      this.#record(job, {
        startedAt,
        endedAt: Date.now(),
        code: null,
        signal: null,
        result: 'could not start',
        message: (err as Error).message,
      });
      return;
    }
    const pid = child.pid;
    if (pid === undefined) {
      child.once('error', (err) =>
        this.#record(job, { startedAt, endedAt: Date.now(), code: null, signal: null, result: 'could not start', message: err.message }),
      );
      return;
    }
    job.child = child;
    job.runs++;
    job.timedOut = false;
    job.running = { pid, startTime: procStartTime(pid), startedAt };
    child.once('exit', (code, signal) => this.#finished(job, code, signal, null));
    if (spec.timeoutMs > 0) {
      job.kill = setTimeout(() => {
        job.timedOut = true;
        try {
          signalGroup(pid, 'SIGTERM');
        } catch {
          // gone already
        }
        job.kill = setTimeout(() => killRemnants(pid), this.options.killGraceMs ?? CRON_KILL_GRACE_MS);
      }, spec.timeoutMs);
    }
    this.emit('change', view(job));
  }

  #finished(job: Job, code: number | null, signal: string | null, note: string | null): void {
    const running = job.running;
    if (running === null) return;
    clearTimeout(job.kill);
    // What the run left behind in its group (a forgotten `&`) ends with it.
    killRemnants(running.pid);
    const endedAt = Date.now();
    const secs = ((endedAt - running.startedAt) / 1000).toFixed(1);
    const how = note ?? (signal !== null ? `killed by ${signal}` : `exit ${code}`);
    const result: CronRun['result'] = job.timedOut ? 'timed out' : note !== null ? 'unknown' : code === 0 ? 'ok' : 'failed';
    const message = job.timedOut ? `timed out after ${job.spec.timeoutMs / 1000} s: ${how}` : `ran ${secs} s: ${how}`;
    job.running = null;
    job.child = null;
    this.#record(job, { startedAt: running.startedAt, endedAt, code, signal, result, message });
    if (job.removed) this.#jobs.delete(job.spec.id);
  }

  #record(job: Job, run: CronRun): void {
    job.lastRun = run;
    const failed = run.result === 'failed' || run.result === 'timed out' || run.result === 'could not start';
    this.emit('event', job.spec.id, failed ? 'cron-failed' : 'cron', run.message);
    this.emit('change', view(job));
  }
}

function view(job: Job): CronStatus {
  return {
    id: job.spec.id,
    schedule: job.spec.schedule,
    timezone: job.spec.timezone ?? null,
    command: job.spec.command,
    running: job.running === null ? null : { ...job.running },
    nextRunAt: job.nextRunAt,
    lastRun: job.lastRun === null ? null : { ...job.lastRun },
    runs: job.runs,
    skipped: job.skipped,
    logs: logPaths(job.spec),
    meta: { ...(job.spec.meta ?? {}) },
  };
}
