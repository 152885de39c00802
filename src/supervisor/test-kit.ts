/**
 * Helpers for the supervisor's tests (not part of the public surface): a scratch folder,
 * specs with small timings, waiting against a deadline, and looking at process groups.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { procStat } from './proc.js';
import type { WatchSpec } from './types.js';

/** A scratch folder and specs that live in it. */
export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), 'noops-sup-'));
  #seq = 0;

  /** A spec running `command` with small timings; `over` replaces any field. */
  spec(command: string, over: Partial<WatchSpec> = {}): WatchSpec {
    this.#seq++;
    return {
      id: `t${this.#seq}`,
      command,
      cwd: this.dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      logDir: join(this.dir, 'log'),
      logName: `p${this.#seq}`,
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 2_000,
      startGraceMs: 150,
      ...over,
    };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `check` until it returns a value other than undefined/null/false, or fails at the deadline. */
export async function until<T>(
  what: string,
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Live (non-zombie) members of a process group, from /proc. */
export function liveMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st && st.pgrp === pgid && st.state !== 'Z') out.push(Number(name));
  }
  return out;
}

/**
 * Waits (up to `timeoutMs`) for the group to be gone, then asserts it: a SIGKILL sent to a group
 * is delivered at once, but on a loaded machine its members may take a moment to die after the
 * leader's exit was seen.
 */
export async function waitGroupGone(pgid: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && liveMembers(pgid).length > 0) await sleep(20);
  assertGroupGone(pgid);
}

/**
 * The group is gone: kill(-pgid, 0) throws ESRCH, or (when PID 1 does not reap orphans, as in
 * some containers) only zombies remain in it.
 */
export function assertGroupGone(pgid: number): void {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ESRCH');
    return;
  }
  assert.deepEqual(liveMembers(pgid), [], `live processes left in group ${pgid}`);
}
