/**
 * The checks behind the conditions, each one real: /proc for memory and CPU, an HTTP GET, a TCP
 * connect, a shell command in its own process group.
 *
 * The one probe implementation of noops: `tcpConnect`, `httpGet` and `runProbeCommand` do the I/O
 * and answer what happened; the conditions here (`checkTcp`, `checkHttp`, `checkCommand`) and the
 * agent's release health checks (agent/health/probe.ts) only put it in their own words.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { formatBytes, type CheckResult, type CommandCondition, type HttpCondition, type TcpCondition } from './conditions.js';
import { signalGroup } from './proc.js';
import { type CpuMeter, groupUsage } from './usage.js';
import { asUser, type RunAs } from './user.js';

/** Why a connection or a request got no answer: the time ran out, or the system's error. */
export interface ProbeFailure {
  timedOut: boolean;
  /** the system's error code (`ECONNREFUSED`), when there is one */
  code: string | undefined;
  message: string;
}

/** Connects to host:port and closes at once: null when it connected, else why not. Never rejects. */
export function tcpConnect(host: string, port: number, timeoutMs: number): Promise<ProbeFailure | null> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (r: ProbeFailure | null): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ timedOut: true, code: undefined, message: 'timed out' }), timeoutMs);
    sock.once('connect', () => done(null));
    sock.once('error', (err: NodeJS.ErrnoException) => done({ timedOut: false, code: err.code, message: err.message }));
  });
}

/** GETs the URL (redirects are not followed: a 3xx is an answer): its status, or why none came. Never rejects. */
export async function httpGet(url: string, timeoutMs: number): Promise<{ status: number } | { failure: ProbeFailure }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel().catch(() => undefined); // the status is the answer; the body may break off
    return { status: res.status };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { failure: { timedOut: e.name === 'TimeoutError', code: e.cause?.code, message: e.message } };
  }
}

/** How a probe command is run: the process's folder, environment and user, and its deadline. */
export interface ProbeCommandOptions {
  cwd: string;
  env: Record<string, string>;
  /** the user to run as (undefined: the caller's own) */
  runAs?: RunAs;
  timeoutMs: number;
  /** keep the last this many characters of its stdout and stderr (0 or absent: discard them) */
  keepOutput?: number;
}

/** How a probe command ended. */
export interface ProbeCommandOutcome {
  /** it could not be started: why */
  spawnError?: string;
  /** it outlived its deadline and was killed */
  timedOut: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the end of its output (empty unless `keepOutput`) */
  output: string;
}

/**
 * Runs `/bin/sh -c command` in its own process group; at its deadline, and again when it exits,
 * the whole group is killed, so nothing a check started in the background piles up. Never rejects.
 */
export function runProbeCommand(command: string, o: ProbeCommandOptions): Promise<ProbeCommandOutcome> {
  return new Promise((resolve) => {
    const keep = o.keepOutput ?? 0;
    const child = spawn('/bin/sh', ['-c', command], {
      cwd: o.cwd,
      detached: true,
      stdio: keep > 0 ? ['ignore', 'pipe', 'pipe'] : 'ignore',
      ...asUser(o.runAs, o.env),
    });
    let output = '';
    const take = (b: Buffer): void => {
      output = (output + b.toString()).slice(-keep);
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    let timedOut = false;
    let ended: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    const settle = (r: ProbeCommandOutcome): void => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      resolve(r);
    };
    const kill = (): void => {
      if (child.pid === undefined) return;
      try {
        signalGroup(child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, o.timeoutMs);
    child.once('error', (err) => settle({ spawnError: err.message, timedOut: false, code: null, signal: null, output }));
    child.once('exit', (code, signal) => {
      ended = { code, signal };
      kill(); // what the check forked in the background must not pile up
    });
    // 'close' comes after 'exit' once its output is read to the end
    child.once('close', (code, signal) => settle({ timedOut, code: ended?.code ?? code, signal: ended?.signal ?? signal, output }));
  });
}

/** What a probe looks at: the running process. */
export interface ProbeTarget {
  pid: number;
  cwd: string;
  env: Record<string, string>;
  /** the user the process runs as, when not the supervisor's: a command check runs as it too */
  runAs?: RunAs;
}

/** Memory of the group above `aboveBytes`. A group that is gone is not "above". */
export function checkMemory(target: ProbeTarget, aboveBytes: number): CheckResult {
  const usage = groupUsage(target.pid);
  if (usage === null) return { failed: false, observed: 'no process' };
  return { failed: usage.rssBytes > aboveBytes, observed: `rss ${formatBytes(usage.rssBytes)}` };
}

/** CPU of the group since the meter's last sample above `abovePercent`; the first sample passes. */
export function checkCpu(target: ProbeTarget, abovePercent: number, meter: CpuMeter): CheckResult {
  const usage = groupUsage(target.pid);
  if (usage === null) return { failed: false, observed: 'no process' };
  const pct = meter.sample(usage.cpuTicks);
  if (pct === null) return { failed: false, observed: 'first sample' };
  return { failed: pct > abovePercent, observed: `cpu ${pct.toFixed(1)}%` };
}

/** True when `code` breaks the condition's rule. */
export function codeFails(c: Pick<HttpCondition, 'codeIs' | 'codeIsNot'>, code: number): boolean {
  if (c.codeIs) return !c.codeIs.includes(code);
  if (c.codeIsNot) return c.codeIsNot.includes(code);
  return code >= 400;
}

/** GET the URL (redirects are not followed: a 3xx is an answer). */
export async function checkHttp(c: HttpCondition): Promise<CheckResult> {
  const r = await httpGet(c.url, c.timeoutMs);
  if ('status' in r) return { failed: codeFails(c, r.status), observed: `HTTP ${r.status}` };
  return { failed: true, observed: r.failure.timedOut ? `no answer within ${c.timeoutMs} ms` : (r.failure.code ?? r.failure.message) };
}

/** Connects and closes at once. */
export async function checkTcp(c: TcpCondition): Promise<CheckResult> {
  const failure = await tcpConnect(c.host, c.port, c.timeoutMs);
  if (failure === null) return { failed: false, observed: 'connected' };
  return { failed: true, observed: failure.timedOut ? `no connection within ${c.timeoutMs} ms` : (failure.code ?? failure.message) };
}

/** Runs the command with the process's folder and environment; what it leaves running is killed. */
export async function checkCommand(c: CommandCondition, target: ProbeTarget): Promise<CheckResult> {
  const r = await runProbeCommand(c.command, { cwd: target.cwd, env: target.env, runAs: target.runAs, timeoutMs: c.timeoutMs });
  if (r.spawnError !== undefined) return { failed: true, observed: `could not run: ${r.spawnError}` };
  if (r.timedOut) return { failed: true, observed: `no exit within ${c.timeoutMs} ms` };
  return { failed: r.code !== 0, observed: r.signal ? `killed by ${r.signal}` : `exit ${r.code}` };
}
