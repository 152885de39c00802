/**
 * Cron schedules, parsed by croner (a well-kept, dependency-free parser with time zones, DST,
 * `L`, `W`, `#`, nicknames such as `@hourly`, and an optional seconds field). The rest of the
 * supervisor sees only the tiny `Schedule` interface. It lives in release/ (the syntax of what a
 * release declares, checked at build time) and the supervisor runs it: release/ imports no supervisor.
 */
import { Cron } from 'croner';
import { NoopsError } from '../errors/index.js';

/** When a schedule fires next. */
export interface Schedule {
  readonly pattern: string;
  readonly timezone: string | undefined;
  /** the first time strictly after `after`, or null when the schedule never fires again */
  next(after: Date): Date | null;
}

/**
 * Parses `pattern` (5 fields, or 6 with seconds first; `@daily` and the like) in `timezone`
 * (an IANA name; default the host's), or throws NOOPS_E_INPUT saying what is wrong.
 *
 * @example cronSchedule('*\/5 * * * *').next(new Date('2024-05-01T12:01:00Z')) // 2024-05-01T12:05:00Z
 */
export function cronSchedule(pattern: string, timezone?: string): Schedule {
  let cron: Cron;
  try {
    // No function: croner only evaluates the pattern and never starts a timer.
    cron = new Cron(pattern, { timezone, paused: true });
    cron.nextRun(new Date()); // a bad time zone shows only when a time is computed
  } catch (err) {
    throw new NoopsError('NOOPS_E_INPUT', `schedule "${pattern}"${timezone ? ` (${timezone})` : ''}: ${(err as Error).message}`, {
      hint: 'a cron schedule is 5 fields (minute hour day month weekday, e.g. "*/5 * * * *"), 6 with seconds first, or @hourly, @daily, ...',
    });
  }
  return {
    pattern,
    timezone,
    next: (after) => cron.nextRun(after),
  };
}

/** The problem with a schedule in words, or null when croner accepts it (for config validation). */
export function scheduleProblem(pattern: string, timezone?: string): string | null {
  try {
    cronSchedule(pattern, timezone);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
