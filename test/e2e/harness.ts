/**
 * The end-to-end harness: real git repositories, a real `noops server` and real `noops agent`
 * processes started from bin/noops, and the CLI run as a user runs it.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync, mkdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
export { freePort } from '../../src/net/index.js';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const NOOPS = join(ROOT, 'bin', 'noops');

export function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `noops-${prefix}-`));
}

/** Waits until `check` returns a truthy value, retrying against a deadline. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
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
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// ---- git ----

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=dev@example.com', '-c', 'user.name=dev', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();
}

/** Writes files into a repository (created if new) and commits them; answers the commit. */
export function commitFiles(dir: string, files: Record<string, string>, message: string): string {
  if (!existsSync(join(dir, '.git'))) {
    mkdirSync(dir, { recursive: true });
    git(dir, 'init', '-q');
  }
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', message);
  return git(dir, 'rev-parse', 'HEAD');
}

/** A Node.js web app with a Procfile; each commit answers with its own greeting. */
export function makeAppRepo(dir: string): { commit(greeting: string, extra?: Record<string, string>): string } {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q');
  writeFileSync(join(dir, 'Procfile'), 'web: node server.js\n');
  return {
    commit(greeting, extra = {}) {
      writeFileSync(
        join(dir, 'server.js'),
        `
const http = require('http');
const greeting = ${JSON.stringify(greeting)};
http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ greeting, version: process.env.NOOPS_VERSION, tag: process.env.NOOPS_TAG, kind: process.env.NOOPS_DEPLOY_KIND, pid: process.pid }));
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`,
      );
      for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
      git(dir, 'add', '-A');
      git(dir, 'commit', '-q', '-m', greeting);
      return git(dir, 'rev-parse', 'HEAD');
    },
  };
}

// ---- processes ----

export interface Proc {
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function launch(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [NOOPS, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  return {
    child,
    output: () => out,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

export interface ServerProc extends Proc {
  url: string;
  adminToken: string;
  joinToken: string;
}

/** Starts `noops server` and waits until it listens. */
export async function startServer(
  dataDir: string,
  port: number,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<ServerProc> {
  const p = launch(['server', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--heartbeat-ms', '300', ...extra], env);
  await until(
    'the server to listen',
    () => p.output().includes('listening on') || (p.child.exitCode !== null && Promise.reject(new Error(p.output()))),
    30_000,
  );
  return {
    ...p,
    url: `http://127.0.0.1:${port}`,
    adminToken: readFileSync(join(dataDir, 'admin.token'), 'utf8').trim(),
    joinToken: readFileSync(join(dataDir, 'join.token'), 'utf8').trim(),
  };
}

/**
 * Lets other users walk through the test's temp folders down to `root` (mkdtemp makes them
 * 0700): an agent running as root runs processes as `noops`, which must reach its releases.
 */
export function walkableTo(root: string): void {
  for (let d = dirname(root); d.startsWith(`${tmpdir()}/`); d = dirname(d)) {
    if (existsSync(d)) chmodSync(d, (statSync(d).mode & 0o7777) | 0o001);
  }
}

/**
 * Starts `noops agent` with its own root and name. Its Falcon push API and its peer server take
 * free ports (many agents share the machine: none holds 127.0.0.1:1988 or 0.0.0.0:7701) and it collects metrics every 2 s; `extra`
 * flags come last and win (e.g. `--metrics-every 1s`).
 */
export function startAgent(
  server: { url: string; joinToken: string },
  root: string,
  name: string,
  labels = 'rack=r1',
  env: Record<string, string> = {},
  extra: string[] = [],
): Proc {
  walkableTo(root);
  return launch(
    [
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
      labels,
      '--push-listen',
      '127.0.0.1:0',
      // many agents share the machine: none holds the default 0.0.0.0:7701
      '--peer-listen',
      '127.0.0.1:0',
      '--metrics-every',
      '2s',
      ...extra,
    ],
    env,
  );
}

/** Starts `noops agent --standalone` (no server: only the watches file). */
export function startStandaloneAgent(root: string, watchesFile: string): Proc {
  return launch(['agent', '--standalone', '--root', root, '--name', 'local', '--watches', watchesFile]);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a user would, against one server with its admin token. */
export function cli(
  server: { url: string; adminToken: string },
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NOOPS, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, NOOPS_SERVER: server.url, NOOPS_TOKEN: server.adminToken, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Runs the CLI and parses its --json output; fails loudly with the CLI's stderr otherwise. */
export async function cliJson<T>(server: { url: string; adminToken: string }, args: string[]): Promise<T> {
  const r = await cli(server, [...args, '--json']);
  if (r.code !== 0) throw new Error(`noops ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** GET a URL and parse JSON. */
export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  return (await res.json()) as T;
}

/** Kills every process group an agent root's state.json lists (test cleanup: no orphans). */
export function killSupervised(root: string): void {
  const file = join(root, 'state.json');
  if (!existsSync(file)) return;
  type Watches = { processes: Record<string, { pid: number }>; crons?: Record<string, { pid: number }> };
  const state = JSON.parse(readFileSync(file, 'utf8')) as { instances: Record<string, Watches>; local?: Watches };
  for (const inst of [...Object.values(state.instances), ...(state.local ? [state.local] : [])]) {
    for (const p of [...Object.values(inst.processes), ...Object.values(inst.crons ?? {})]) {
      // -0 would be this test runner's own process group, and -1 every process it may signal
      if (!Number.isInteger(p.pid) || p.pid <= 1) continue;
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

export function cleanup(dirs: string[]): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

// ---- several servers on one PostgreSQL (issue 14) ----

/** A database of its own on NOOPS_TEST_PG_URL's server: its URL, and `drop()` for the test's end. */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

async function pgAdmin(serverUrl: string, statement: string): Promise<void> {
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

/**
 * Creates a fresh database named `PREFIX_<random>` beside the one `serverUrl` names (the shared
 * test server: each test makes its own and drops only that one).
 */
export async function createTestDatabase(serverUrl: string, prefix: string): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await pgAdmin(serverUrl, `create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      pgAdmin(serverUrl, `drop database if exists ${name} with (force)`).catch((err: Error) =>
        process.emitWarning(`could not drop ${name}: ${err.message}`),
      ),
  };
}

/**
 * The key files every server of one database must share (docs/trust.md#several-servers): copied
 * from the first server's data folder into another's before that one starts.
 */
export const SHARED_KEY_FILES = ['signing.key', 'secret.key'];

/** Copies SHARED_KEY_FILES (those that exist) from one data folder into another (made 0700). */
export function shareServerKeys(fromDataDir: string, toDataDir: string): void {
  mkdirSync(toDataDir, { recursive: true, mode: 0o700 });
  for (const f of SHARED_KEY_FILES) {
    if (existsSync(join(fromDataDir, f))) copyFileSync(join(fromDataDir, f), join(toDataDir, f));
  }
}
