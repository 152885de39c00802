/**
 * Real `noops server` and `noops agent` processes for benchmarks, started from bin/noops as a
 * user starts them, each in its own process so its CPU is measured apart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient } from '../../src/api/index.js';
import { freePort } from '../../src/net/index.js';

export { freePort };

export const ROOT = new URL('../..', import.meta.url).pathname;
export const NOOPS = join(ROOT, 'bin', 'noops');
/** Writes the server's CPU profile minute by minute under NOOPS_BENCH_PROFILE (see the file). */
const CPU_PROBE = join(ROOT, 'bench', 'lib', 'cpu-probe.mjs');

/** How long a server may take to open its store and listen (a busy 2-core machine is slow). */
const LISTEN_TIMEOUT_MS = 60_000;

export interface Daemon {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns bin/noops with `args`; output is kept (the last 64 KB) for error messages. */
export function launch(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): Daemon {
  const child = spawn(process.execPath, [...nodeArgs, NOOPS, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // NOOPS_BENCH_DAEMON_LOG=FILE: every daemon's output is appended there too (e.g. the server's --trace-gc)
  const log = process.env.NOOPS_BENCH_DAEMON_LOG;
  const keep = (b: Buffer): void => {
    out = (out + b.toString()).slice(-65_536);
    if (log) appendFileSync(log, b);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return {
    child,
    pid: child.pid!,
    output: () => out,
    stop: (graceMs = 10_000) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export interface ServerDaemon extends Daemon {
  url: string;
  adminToken: string;
  joinToken: string;
  api: ApiClient;
  /** the CA to verify it with, when started with `--tls auto` */
  caFile?: string;
}

/** Starts `noops server` on a free port with its data in `dataDir`; resolves once it listens
 * (`extra` may hold `--tls auto`: the URL is then https:// and `api` pins the server's CA;
 * `more`: environment and node flags for the server's process, e.g. an `--import` probe). */
export async function startServer(
  dataDir: string,
  extra: string[] = [],
  more: { env?: Record<string, string>; nodeArgs?: string[] } = {},
): Promise<ServerDaemon> {
  const port = await freePort();
  // NOOPS_BENCH_PROFILE=DIR: the server writes a V8 CPU profile of each minute there (cpu-probe.mjs).
  const profile = process.env.NOOPS_BENCH_PROFILE;
  // NOOPS_BENCH_SERVER_NODE_ARGS='--max-semi-space-size=32 ...': node flags for the server alone, to compare settings.
  const flags = (process.env.NOOPS_BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  // NOOPS_BENCH_SERVER_ENV='MALLOC_ARENA_MAX=2 ...': environment for the server alone, likewise.
  const env = Object.fromEntries(
    (process.env.NOOPS_BENCH_SERVER_ENV ?? '')
      .split(/\s+/)
      .filter((kv) => kv.includes('='))
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const d = launch(['server', '--data', dataDir, '--listen', `127.0.0.1:${port}`, ...extra], { ...env, ...more.env }, [
    ...(profile ? ['--import', CPU_PROBE] : []),
    ...flags,
    ...(more.nodeArgs ?? []),
  ]);
  const deadline = Date.now() + LISTEN_TIMEOUT_MS;
  while (!d.output().includes('listening on')) {
    if (d.child.exitCode !== null) throw new Error(`noops server exited: ${d.output()}`);
    if (Date.now() > deadline) {
      await d.stop();
      throw new Error(`noops server did not listen within ${LISTEN_TIMEOUT_MS / 1000} s: ${d.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const caFile = extra.includes('--tls') ? join(dataDir, 'tls', 'ca.pem') : undefined;
  const url = `${caFile ? 'https' : 'http'}://127.0.0.1:${port}`;
  const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const api = new ApiClient(url, adminToken, caFile ? { ca: readFileSync(caFile, 'utf8') } : undefined);
  return { ...d, url, adminToken, joinToken: readFileSync(join(dataDir, 'join.token'), 'utf8').trim(), api, caFile };
}

/** Starts `noops agent` with its own root and name (and `--ca` for a server with TLS). */
export function startAgent(server: { url: string; joinToken: string; caFile?: string }, root: string, name: string): Daemon {
  const ca = server.caFile ? ['--ca', server.caFile] : [];
  return launch([
    'agent',
    '--server',
    server.url,
    '--join-token',
    server.joinToken,
    '--root',
    root,
    '--name',
    name,
    '--labels',
    'bench=real',
    '--push-listen',
    '127.0.0.1:0',
    // many agents on one machine: each serves package pieces on a free port (docs/packages-p2p.md)
    '--peer-listen',
    '127.0.0.1:0',
    ...ca,
  ]);
}

/** Waits until `check` answers truthy, retrying against a deadline. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Kills every process group an agent root's state.json lists: no orphans after a benchmark. */
export function killSupervised(root: string): void {
  const file = join(root, 'state.json');
  if (!existsSync(file)) return;
  const state = JSON.parse(readFileSync(file, 'utf8')) as { instances: Record<string, { processes: Record<string, { pid: number }> }> };
  for (const inst of Object.values(state.instances)) {
    for (const p of Object.values(inst.processes)) {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
