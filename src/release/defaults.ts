/**
 * The one set of supervision defaults: what a process or a cron gets when noops.yaml (or a
 * standalone watch) says nothing, in the units of manifest.json (seconds, bytes). The build writes
 * them into manifest.json; the supervisor's own defaults (supervisor/types.ts: DEFAULT_FLAPPING,
 * DEFAULT_LOG_POLICY, in ms) are derived from these, so an older manifest without the keys runs
 * the same.
 *
 * A named second entry of release/ (see README.md): constants only, no zod, no yaml, so the
 * supervisor and the agent read them without loading the schemas.
 */
import type { ManifestFlapping, ManifestLogs } from './types.js';

/** A service is meant to run: restart whatever the exit status. */
export const DEFAULT_RESTART = 'always';
/**
 * 5 restarts in 2 minutes is flapping: with the supervisor's backoff (at once, 1 s, 2 s, 4 s, ...)
 * a process that dies at once is flapping about 10 s after its first start instead of restarting
 * forever, and one that dies after 10 s within a minute. Retried every 5 minutes (one look at it
 * per coffee), 5 times an hour, then given up: a broken release stops burning CPU and filling
 * logs, and says so.
 */
export const DEFAULT_FLAPPING: ManifestFlapping = { times: 5, within: 120, retryIn: 300, retryTimes: 5, retryWithin: 3600 };
/**
 * 10 MiB x 5 rotated files per stream: days of a chatty service's output; at most 60 MiB per
 * stream (the live file and 5 rotated ones), 120 MiB for a process's out and err logs.
 */
export const DEFAULT_LOGS: ManifestLogs = { maxSize: 10 * 1024 * 1024, keep: 5 };
/** 10 s between checks: a sick process is noticed within a minute, and checks cost little. */
export const DEFAULT_CHECK_INTERVAL = 10;
/** 3 of the last 5 checks (god's favourite): one slow answer or GC pause never restarts. */
export const DEFAULT_CHECK_TIMES = 3;
export const DEFAULT_CHECK_OF = 5;
/** 5 s for an HTTP answer or a TCP connect: far above a healthy local answer, below the interval. */
export const DEFAULT_CHECK_TIMEOUT = 5;
/** 0: a cron run has no time limit unless it names one (as with cron itself). */
export const DEFAULT_CRON_TIMEOUT = 0;
