/**
 * How `noops ctl` shows watches, as pure functions: god's status lines and exit codes.
 *
 *   cop.acme_..._cluster.prod/web[4242]: up (2024-05-01 12:00:03)
 *   nginx: flapping (restarted 5 times within 120 s ...; retry at 12:05:03)
 *   cop.acme_..._cluster.prod/report: scheduled (next 2024-05-02 03:00:00; last ok: ran 1.2 s: exit 0)
 */
import type { WatchView } from '../agent/ctl.js';

/** `2024-05-01 12:00:03`, in the local time zone of the person reading it. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** One line per watch: `name[pid]: state (start time)`, or the reason when nothing runs. */
export function statusLine(w: WatchView): string {
  if (w.kind === 'cron') {
    const next = w.nextRunAt != null ? `next ${localTime(w.nextRunAt)}` : 'no next run';
    const last = w.lastRun ? `last ${w.lastRun.result}: ${w.lastRun.message}` : 'not run yet';
    const running = w.pid !== null ? `[${w.pid}]` : '';
    return `${w.id}${running}: ${w.state} (${next}; ${last})`;
  }
  if (w.pid !== null && w.startedAt !== null) return `${w.id}[${w.pid}]: ${w.state} (${localTime(w.startedAt)})`;
  const retry = w.retryAt ? `; retry at ${localTime(w.retryAt)}` : '';
  return `${w.id}: ${w.state} (${w.reason}${retry})`;
}

/**
 * god's exit codes: 0 when every process named is up; 1 when some are stopped or exited (not
 * running, by request or by their policy) and none is in trouble; 2 when some are starting,
 * backing off, stopping or flapping. Crons do not count.
 */
export function statusExitCode(watches: readonly WatchView[]): 0 | 1 | 2 {
  let code: 0 | 1 | 2 = 0;
  for (const w of watches) {
    if (w.kind !== 'process' || w.state === 'up') continue;
    if (w.state === 'stopped' || w.state === 'exited') code = code === 2 ? 2 : 1;
    else code = 2;
  }
  return code;
}
