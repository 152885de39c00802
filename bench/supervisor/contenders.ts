/**
 * The four supervisors, each started as its users run it, supervising the same programs:
 * noops (`noops agent --standalone` with a watches file), supervisord (Debian `supervisor`),
 * god (Debian `ruby-god`) and PM2 (npm, installed outside the repository). Each lives in its
 * own folder; nothing global (ports, homes, pid folders) is shared with anything else.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/net/index.js';

/** A program to supervise: a name and a `/bin/sh -c` script. */
export interface Program {
  name: string;
  script: string;
}

/** A supervisor running its programs. */
export interface Running {
  /** the supervisor's own processes (not its programs) */
  pids(): number[];
  stop(): Promise<void>;
}

export interface Contender {
  name: string;
  /** the version, or undefined when it is not installed here (the reason in `missing`) */
  version(): string | undefined;
  missing: string;
  /** how it was set up, in words, for the docs */
  setup: string;
  start(dir: string, programs: readonly Program[]): Promise<Running>;
}

const ROOT = new URL('../..', import.meta.url).pathname;
/** PM2 lives outside the repository: `npm install --prefix /tmp/pm2 pm2@7.0.4` (or PM2_BIN). */
const PM2_BIN = process.env.PM2_BIN ?? '/tmp/pm2/node_modules/pm2/bin/pm2';

function firstLine(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 })
      .trim()
      .split('\n')
      .pop();
  } catch {
    return undefined;
  }
}

/** Waits for a child to exit, SIGKILLing it after `ms`. */
async function ended(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  const t = setTimeout(() => child.kill('SIGKILL'), ms);
  await done;
  clearTimeout(t);
}

function daemon(cmd: string, args: string[], dir: string, env: Record<string, string> = {}): ChildProcess {
  return spawn(cmd, args, { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'ignore'] });
}

export const noops: Contender = {
  name: 'noops',
  version: () =>
    existsSync(join(ROOT, 'dist', 'cli', 'main.js'))
      ? (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string)
      : undefined,
  missing: 'dist/ is missing: run `npm run build` first',
  setup: '`noops agent --standalone` with a watches file; defaults (restart always, backoff at once then 1 s, 2 s, ...)',
  async start(dir, programs) {
    const watches = join(dir, 'watches.yaml');
    writeFileSync(
      watches,
      `processes:\n${programs.map((p) => `  ${p.name}:\n    command: ${JSON.stringify(p.script)}\n    dir: ${dir}\n`).join('')}`,
    );
    const child = daemon(
      process.execPath,
      [join(ROOT, 'bin', 'noops'), 'agent', '--standalone', '--root', join(dir, 'root'), '--name', 'bench', '--watches', watches],
      dir,
    );
    return {
      pids: () => (child.pid ? [child.pid] : []),
      async stop() {
        spawnSync(process.execPath, [join(ROOT, 'bin', 'noops'), 'ctl', '--root', join(dir, 'root'), 'nuke'], {
          stdio: 'ignore',
          timeout: 60_000,
        });
        await ended(child, 30_000);
      },
    };
  },
};

export const supervisord: Contender = {
  name: 'supervisord',
  version: () => firstLine('supervisord', ['--version']),
  missing: 'not installed: apt-get install supervisor',
  setup: '`supervisord -n`, autorestart=true, startsecs=1, stopasgroup/killasgroup',
  async start(dir, programs) {
    const conf = join(dir, 'supervisord.conf');
    // ConfigParser interpolates %: a literal % is written %%.
    writeFileSync(
      conf,
      [
        '[supervisord]',
        `logfile=${join(dir, 'supervisord.log')}`,
        `pidfile=${join(dir, 'supervisord.pid')}`,
        `childlogdir=${dir}`,
        'nodaemon=true',
        '',
        '[unix_http_server]',
        `file=${join(dir, 'supervisor.sock')}`,
        '',
        '[rpcinterface:supervisor]',
        'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
        '',
        ...programs.flatMap((p) => [
          `[program:${p.name}]`,
          `command=/bin/sh -c '${p.script.replace(/%/g, '%%')}'`,
          `directory=${dir}`,
          'autorestart=true',
          'startsecs=1',
          'stopasgroup=true',
          'killasgroup=true',
          `stdout_logfile=${join(dir, `${p.name}.log`)}`,
          'redirect_stderr=true',
          '',
        ]),
      ].join('\n'),
    );
    const child = daemon('supervisord', ['-n', '-c', conf], dir);
    return {
      pids: () => (child.pid ? [child.pid] : []),
      async stop() {
        child.kill('SIGTERM');
        await ended(child, 60_000);
      },
    };
  },
};

export const god: Contender = {
  name: 'god',
  version: () => firstLine('god', ['--version'])?.replace(/^Version /, ''),
  missing: 'not installed: apt-get install ruby-god',
  setup:
    "`god -D`, `w.keepalive` with its checks every 1 s (god's default is 5 s), processes daemonized by god; a shim for Debian 12's god on Ruby 3 (`Kernel#timeout`)",
  async start(dir, programs) {
    const port = await freePort();
    const conf = join(dir, 'bench.god');
    writeFileSync(
      conf,
      [
        // Debian 12's ruby-god 0.13.7 calls Kernel#timeout, which Ruby 3 no longer has: without this
        // shim its /proc poller raises on every check and god never sees a process die.
        "require 'timeout'",
        'module Kernel; private def timeout(*args, &block) = Timeout.timeout(*args, &block); end',
        `God.pid_file_directory = ${JSON.stringify(join(dir, 'pids'))}`,
        ...programs.map((p) =>
          [
            'God.watch do |w|',
            `  w.name = ${JSON.stringify(p.name)}`,
            `  w.dir = ${JSON.stringify(dir)}`,
            `  w.start = ${JSON.stringify(`/bin/sh -c '${p.script}'`)}`,
            `  w.log = ${JSON.stringify(join(dir, `${p.name}.log`))}`,
            '  w.interval = 1.seconds',
            '  w.keepalive(:interval => 1.seconds)',
            'end',
          ].join('\n'),
        ),
      ].join('\n'),
    );
    const child = daemon('god', ['-c', conf, '-D', '-p', String(port), '--no-syslog', '-l', join(dir, 'god.log')], dir);
    return {
      pids: () => (child.pid ? [child.pid] : []),
      async stop() {
        spawnSync('god', ['-p', String(port), 'terminate'], { stdio: 'ignore', timeout: 60_000 });
        await ended(child, 30_000);
      },
    };
  },
};

export const pm2: Contender = {
  name: 'pm2',
  version: () => (existsSync(PM2_BIN) ? firstLine(process.execPath, [PM2_BIN, '--version']) : undefined),
  missing: `not installed: npm install --prefix /tmp/pm2 pm2@7.0.4 (or set PM2_BIN)`,
  setup: 'the PM2 daemon started by `pm2 start ecosystem.config.js`, fork mode, `interpreter: none`, autorestart, no restart delay',
  async start(dir, programs) {
    const home = join(dir, 'pm2home');
    const eco = join(dir, 'ecosystem.config.js');
    const apps = programs.map((p) => ({
      name: p.name,
      script: '/bin/sh',
      args: ['-c', p.script],
      interpreter: 'none',
      cwd: dir,
      autorestart: true,
      out_file: join(dir, `${p.name}.out.log`),
      error_file: join(dir, `${p.name}.err.log`),
    }));
    writeFileSync(eco, `module.exports = ${JSON.stringify({ apps }, null, 1)};\n`);
    const env = { PM2_HOME: home, HOME: dir };
    const r = spawnSync(process.execPath, [PM2_BIN, 'start', eco], { env: { ...process.env, ...env }, stdio: 'ignore', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`pm2 start failed (exit ${r.status})`);
    const pidFile = join(home, 'pm2.pid');
    for (let i = 0; i < 200 && !existsSync(pidFile); i++) await sleep(50);
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    return {
      pids: () => [pid],
      async stop() {
        spawnSync(process.execPath, [PM2_BIN, 'kill'], { env: { ...process.env, ...env }, stdio: 'ignore', timeout: 60_000 });
      },
    };
  },
};

export const CONTENDERS: readonly Contender[] = [noops, supervisord, god, pm2];
