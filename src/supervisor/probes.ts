/**
 * The checks behind the conditions, each one real: /proc for memory and CPU, an HTTP GET, a TCP
 * connect, a shell command in its own process group.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { formatBytes, type CheckResult, type CommandCondition, type HttpCondition, type TcpCondition } from './conditions.js';
import { signalGroup } from './proc.js';
import { CpuMeter, groupUsage } from './usage.js';
import { asUser, type RunAs } from './user.js';

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
  try {
    const res = await fetch(c.url, { signal: AbortSignal.timeout(c.timeoutMs), redirect: 'manual' });
    await res.body?.cancel().catch(() => undefined);
    return { failed: codeFails(c, res.status), observed: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${c.timeoutMs} ms` : (e.cause?.code ?? e.message);
    return { failed: true, observed: why };
  }
}

/** Connects and closes at once. */
export function checkTcp(c: TcpCondition): Promise<CheckResult> {
  return new Promise((resolve) => {
    const sock = connect({ host: c.host, port: c.port });
    const done = (r: CheckResult): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ failed: true, observed: `no connection within ${c.timeoutMs} ms` }), c.timeoutMs);
    sock.once('connect', () => done({ failed: false, observed: 'connected' }));
    sock.once('error', (err: NodeJS.ErrnoException) => done({ failed: true, observed: err.code ?? err.message }));
  });
}

/** Runs the command with the process's folder and environment; what it leaves running is killed. */
export function checkCommand(c: CommandCondition, target: ProbeTarget): Promise<CheckResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', c.command], { cwd: target.cwd, detached: true, stdio: 'ignore', ...asUser(target.runAs, target.env) });
    let timedOut = false;
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
    }, c.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ failed: true, observed: `could not run: ${err.message}` });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      kill(); // what the check forked in the background must not pile up
      if (timedOut) resolve({ failed: true, observed: `no exit within ${c.timeoutMs} ms` });
      else resolve({ failed: code !== 0, observed: signal ? `killed by ${signal}` : `exit ${code}` });
    });
  });
}
