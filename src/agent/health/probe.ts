/**
 * One health check of one process: a TCP connect, an HTTP GET, or a command. Answers null when
 * healthy, else what failed, in words. The I/O is the supervisor's probes (one implementation
 * for conditions and health checks); this file only says what it found in the agent's words.
 */
import type { HealthCheck } from '../../release/index.js';
import { httpGet, runProbeCommand, spawnIdentity, tcpConnect, type RunAs } from '../../supervisor/index.js';

/** Where a check looks: the process's port, its release folder and environment; a command runs as the process's user. */
export interface ProbeTarget {
  port: number | null;
  cwd: string;
  env: Record<string, string>;
  /** the process's user (undefined: the agent's own) */
  user?: string;
  /** false: the check never runs as uid 0 (as the process) */
  allowRoot?: boolean;
  /** where the process listens: a container's own address (default the loopback) */
  host?: string;
}

/** Runs one check; resolves null (healthy) or the reason it failed. Never rejects. */
export type Probe = (check: HealthCheck, target: ProbeTarget) => Promise<string | null>;

/** Where checks connect: the agent's own host, where the process listens. */
const HOST = '127.0.0.1';
/** The characters of a failing command's output kept in its reason: its last line or so. */
const REASON_OUTPUT = 200;

/** The real probe. */
export const probe: Probe = async (check, target) => {
  if (check.type === 'none') return null;
  if (check.type === 'command') return probeCommand(check.command, target, check.timeout);
  if (target.port === null) return `a ${check.type} check needs a port, and this process has none (give it one, or another check)`;
  if (check.type === 'tcp') return probeTcp(target.host ?? HOST, target.port, check.timeout);
  return probeHttp(target.host ?? HOST, target.port, check.path, check.timeout);
};

async function probeTcp(host: string, port: number, timeoutS: number): Promise<string | null> {
  const failure = await tcpConnect(host, port, timeoutS * 1000);
  if (failure === null) return null;
  return `tcp ${host}:${port}: ${failure.timedOut ? `no answer within ${timeoutS}s` : failure.code === 'ECONNREFUSED' ? 'connection refused' : failure.message}`;
}

async function probeHttp(host: string, port: number, path: string, timeoutS: number): Promise<string | null> {
  const url = `http://${host}:${port}${path}`;
  const r = await httpGet(url, timeoutS * 1000);
  // a 3xx is an answer of the process itself, and counts as healthy
  if ('status' in r) return r.status >= 200 && r.status < 400 ? null : `http GET ${url}: status ${r.status}`;
  if (r.failure.timedOut) return `http GET ${url}: no answer within ${timeoutS}s`;
  return `http GET ${url}: ${r.failure.code === 'ECONNREFUSED' ? 'connection refused' : r.failure.message}`;
}

async function probeCommand(command: string, target: ProbeTarget, timeoutS: number): Promise<string | null> {
  let runAs: RunAs | undefined;
  try {
    runAs = spawnIdentity(target.user, target.allowRoot); // the process's user, with the same rules
  } catch (err) {
    return `command "${command}": ${(err as Error).message}`;
  }
  const r = await runProbeCommand(command, {
    cwd: target.cwd,
    env: target.env,
    runAs,
    timeoutMs: timeoutS * 1000,
    keepOutput: REASON_OUTPUT,
  });
  if (r.spawnError !== undefined) return `command "${command}": ${r.spawnError}`;
  if (r.timedOut) return `command "${command}": no answer within ${timeoutS}s`;
  if (r.code === 0) return null;
  const said = r.output.trim() ? `: ${r.output.trim().split('\n').pop()}` : '';
  return `command "${command}" exited with code ${r.code}${said}`;
}
