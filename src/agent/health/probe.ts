/**
 * One health check of one process: a TCP connect, an HTTP GET, or a command. Answers null when
 * healthy, else what failed, in words.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { HealthCheck } from '../../release/index.js';
import { asUser, spawnIdentity, type RunAs } from '../../supervisor/index.js';

/** Where a check looks: the process's port, its release folder and environment; a command runs as the process's user. */
export interface ProbeTarget {
  port: number | null;
  cwd: string;
  env: Record<string, string>;
  /** the process's user (undefined: the agent's own) */
  user?: string;
  /** false: the check never runs as uid 0 (as the process) */
  allowRoot?: boolean;
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
  if (check.type === 'tcp') return probeTcp(target.port, check.timeout);
  return probeHttp(target.port, check.path, check.timeout);
};

function probeTcp(port: number, timeoutS: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    const done = (reason: string | null): void => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutS * 1000, () => done(`tcp ${HOST}:${port}: no answer within ${timeoutS}s`));
    socket.once('connect', () => done(null));
    socket.once('error', (err: NodeJS.ErrnoException) => done(`tcp ${HOST}:${port}: ${err.code === 'ECONNREFUSED' ? 'connection refused' : err.message}`));
  });
}

async function probeHttp(port: number, path: string, timeoutS: number): Promise<string | null> {
  const url = `http://${HOST}:${port}${path}`;
  try {
    // redirect 'manual': a 3xx is an answer of the process itself, and counts as healthy
    const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutS * 1000) });
    await res.body?.cancel();
    return res.status >= 200 && res.status < 400 ? null : `http GET ${url}: status ${res.status}`;
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError') return `http GET ${url}: no answer within ${timeoutS}s`;
    return `http GET ${url}: ${e.cause?.code === 'ECONNREFUSED' ? 'connection refused' : e.message}`;
  }
}

function probeCommand(command: string, target: ProbeTarget, timeoutS: number): Promise<string | null> {
  let who: RunAs | undefined;
  try {
    who = spawnIdentity(target.user, target.allowRoot); // the process's user, with the same rules
  } catch (err) {
    return Promise.resolve(`command "${command}": ${(err as Error).message}`);
  }
  return new Promise((resolve) => {
    let out = '';
    // its own process group, so a timeout kills whatever the check started
    const child = spawn('/bin/sh', ['-c', command], { cwd: target.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...asUser(who, target.env) });
    const take = (b: Buffer): void => { out = (out + b.toString()).slice(-REASON_OUTPUT); };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
    }, timeoutS * 1000);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve(`command "${command}": ${err.message}`);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const said = out.trim() ? `: ${out.trim().split('\n').pop()}` : '';
      resolve(timedOut ? `command "${command}": no answer within ${timeoutS}s`
        : code === 0 ? null : `command "${command}" exited with code ${code}${said}`);
    });
  });
}
