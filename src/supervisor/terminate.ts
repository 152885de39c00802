/**
 * Ending a process group: the stop command or the stop signal, then SIGKILL to the whole group
 * after the stop timeout, then waiting until no member runs. Nothing the process forked survives.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessRecord } from './process-record.js';
import { groupAlive, procAlive, signalGroup } from './proc.js';
import { spawnStopCommand } from './spawn.js';
import { STOP_POLL_MS } from './types.js';

/**
 * Ends the group led by `pid` and resolves, with the reason in words, when it is gone (or when
 * even SIGKILL did not end it within `killWaitMs`).
 */
export async function terminate(entry: ProcessRecord, pid: number, killWaitMs: number): Promise<string> {
  const { stopTimeoutMs, stopCommand } = entry.spec;
  let how = entry.signal as string;
  let helper: ChildProcess | undefined;
  if (stopCommand !== undefined) {
    try {
      helper = spawnStopCommand(entry.spec, pid, entry.runAs);
      helper.on('error', () => {
        try {
          signalGroup(pid, entry.signal);
        } catch {
          // the group is gone or not ours: waitGone decides
        }
      });
      how = 'the stop command';
    } catch {
      signalGroup(pid, entry.signal); // the stop command cannot even start: fall back to the signal
    }
  } else {
    signalGroup(pid, entry.signal);
  }
  let reason = `stopped by request (${how})`;
  if (!(await waitGone(entry, pid, stopTimeoutMs))) {
    signalGroup(pid, 'SIGKILL');
    reason = `killed with SIGKILL: still running ${stopTimeoutMs} ms after ${how}`;
    if (!(await waitGone(entry, pid, killWaitMs))) {
      reason += `; group ${pid} still there ${killWaitMs} ms after SIGKILL`;
    }
  }
  // A stop command that hangs must not outlive the stop either.
  if (helper?.pid !== undefined && helper.exitCode === null && helper.signalCode === null) {
    try {
      signalGroup(helper.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return reason;
}

/** Waits until neither the leader nor any process of its group runs; false at the deadline. */
async function waitGone(entry: ProcessRecord, pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leaderRuns = entry.adopted ? procAlive(pid, entry.startTime) : !entry.leaderExited;
    if (!leaderRuns && !groupAlive(pid)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(STOP_POLL_MS);
  }
}
