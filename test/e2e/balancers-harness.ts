/**
 * Real load balancers for the end-to-end tests and benchmarks (issue 16): Debian's HAProxy 2.6
 * and nginx, each started from a temp folder with its own config on a free loopback port, waited
 * for against a deadline, and stopped. The pools are empty at start: noops' agent fills them
 * (HAProxy through its runtime API on the admin socket, nginx through the upstream file and a
 * reload).
 *
 * @example
 *   const lb = await startHaproxy(join(base, 'haproxy'));
 *   // noops lb set web -t SEL --host lb --driver haproxy --socket ${lb.socket} --backend ${lb.backend}
 *   await fetch(lb.url);
 *   await lb.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { nginxLuaConf } from '../../src/agent/index.js';
import { freePort } from '../../src/net/index.js';

/** Debian's binaries (`.ci/run` installs the packages). */
export const HAPROXY = '/usr/sbin/haproxy';
export const NGINX = '/usr/sbin/nginx';
export const KEEPALIVED = '/usr/sbin/keepalived';
/** Debian's libnginx-mod-http-lua and the ndk module it needs (`.ci/run` installs them). */
export const NGINX_LUA_MODULES = ['/usr/lib/nginx/modules/ndk_http_module.so', '/usr/lib/nginx/modules/ngx_http_lua_module.so'];

/** Why an nginx with Lua cannot be started here (a skip message), or false when it can. */
export function nginxLuaMissing(): string | false {
  const absent = [NGINX, ...NGINX_LUA_MODULES].find((f) => !existsSync(f));
  return absent === undefined ? false : `${absent} is absent: apt-get install nginx libnginx-mod-http-lua (.ci/run does)`;
}

/** How long a balancer may take to listen on a busy 2-core machine. */
const START_TIMEOUT_MS = 20_000;
/** How long a balancer may take to exit on SIGTERM before it is killed. */
const STOP_GRACE_MS = 5_000;

/** A balancer process started by a test. */
export interface BalancerProc {
  child: ChildProcess;
  /** the folder holding its config, socket, pid and logs */
  dir: string;
  /** the loopback port its frontend listens on */
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** what it printed (its logs go to stderr) */
  output(): string;
  /** SIGTERM, then SIGKILL after a grace; resolves once it exited */
  stop(): Promise<void>;
}

/** A running HAProxy with an empty backend. */
export interface HaproxyProc extends BalancerProc {
  /** the runtime API's socket (`stats socket PATH mode 600 level admin`) */
  socket: string;
  /** the backend the pool fills (`balance roundrobin`, no servers) */
  backend: string;
  /** one runtime API command (`show servers state web`); answers its output */
  command(line: string): Promise<string>;
}

/** A running nginx whose upstream is the file noops writes. */
export interface NginxProc extends BalancerProc {
  /** the upstream file the server block's `proxy_pass` reads (`include`d in `http`) */
  upstreamFile: string;
  /** the upstream's name (`proxy_pass http://NAME`) */
  upstream: string;
  /** the master's pid file (what the agent signals to reload) */
  pidFile: string;
  /** with `lua`: noops' control API, ADDR:PORT (`noops lb set ... --api`) */
  api?: string;
  /** how many reloads (SIGHUP) nginx has logged */
  reloads(): number;
}

/** Waits until `check` answers truthy; throws with `what` and the last error after `timeoutMs`. */
async function waitFor(what: string, check: () => Promise<boolean> | boolean, proc: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last: unknown;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`${what}: the process exited (${proc.exitCode ?? proc.signalCode}): ${output()}`);
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not ready within ${START_TIMEOUT_MS / 1000} s${last ? ` (${(last as Error).message})` : ''}: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether something accepts a TCP connection on 127.0.0.1:port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Sends one command to an HAProxy runtime API socket and reads the answer until it closes. */
export function haproxyCommand(socket: string, line: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    let text = '';
    const timer = setTimeout(() => conn.destroy(new Error(`haproxy "${line}": no answer within ${timeoutMs} ms`)), timeoutMs);
    conn.setEncoding('utf8');
    conn.once('connect', () => conn.write(`${line}\n`));
    conn.on('data', (chunk: string) => {
      text += chunk;
    });
    conn.once('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    conn.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function spawnKept(cmd: string, args: string[]): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer): void => {
    out = (out + b.toString()).slice(-65_536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.once('error', (err) => keep(Buffer.from(`\nspawn ${cmd}: ${err.message}\n`)));
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return { child, output: () => out, stop };
}

/**
 * Starts HAProxy in the foreground (`-db`) from `dir`: an admin socket, a frontend on a free
 * loopback port, and `backend web` with `balance roundrobin` and no servers. Resolves once the
 * socket answers and the frontend accepts connections.
 */
export async function startHaproxy(dir: string, opts: { backend?: string } = {}): Promise<HaproxyProc> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const socket = join(dir, 'admin.sock');
  const backend = opts.backend ?? 'web';
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      `  stats socket ${socket} mode 600 level admin`,
      '  maxconn 4096',
      // one thread, as the file-driven nginx has one worker: this machine's two cores are shared
      // by a dozen processes, and a runtime change waits for every HAProxy thread to be scheduled
      // (bench/balancers: apply median 10 ms and up to 60 with two threads, 6 and 25 with one)
      '  nbthread 1',
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend fe',
      `  bind 127.0.0.1:${port}`,
      `  default_backend ${backend}`,
      `backend ${backend}`,
      '  balance roundrobin',
      '',
    ].join('\n'),
  );
  const p = spawnKept(HAPROXY, ['-f', config, '-db']);
  const proc: HaproxyProc = {
    ...p,
    dir,
    port,
    url: `http://127.0.0.1:${port}`,
    socket,
    backend,
    command: (line) => haproxyCommand(socket, line),
  };
  try {
    await waitFor(
      'haproxy',
      async () => existsSync(socket) && (await proc.command('show info')).includes('Version:') && (await accepts(port)),
      p.child,
      p.output,
    );
  } catch (err) {
    await p.stop();
    throw err;
  }
  return proc;
}

/** The upstream block of an empty pool: nginx needs one server, which takes no traffic. */
export function emptyUpstream(name: string): string {
  return `upstream ${name} {\n  server 127.0.0.1:1 down;\n}\n`;
}

/**
 * Starts nginx in the foreground (`-p DIR -c CONF -g 'daemon off;'`): one worker, its temp paths,
 * pid file and logs in `dir`, an `http` block that includes `upstreamFile` (written empty first:
 * `server 127.0.0.1:1 down`) and a server on a free loopback port that proxies to the upstream.
 * With `lua`: the Lua module loaded, two workers, and noops' blocks (`noops lb nginx-conf`: the
 * upstream picked in Lua, reading `upstreamFile` at start, and a control API on a free loopback
 * port, `api`) included in place of the file. Resolves once the pid file is written and the
 * ports accept connections.
 */
export async function startNginx(dir: string, opts: { upstream?: string; lua?: boolean } = {}): Promise<NginxProc> {
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const port = await freePort();
  const upstream = opts.upstream ?? 'web';
  const upstreamFile = join(dir, 'upstream.conf');
  const pidFile = join(dir, 'nginx.pid');
  writeFileSync(upstreamFile, emptyUpstream(upstream));
  const api = opts.lua ? `127.0.0.1:${await freePort()}` : undefined;
  const luaConf = join(dir, 'lua.conf');
  if (api !== undefined) writeFileSync(luaConf, nginxLuaConf([{ name: upstream, upstream, file: upstreamFile, api }]));
  const config = join(dir, 'nginx.conf');
  writeFileSync(
    config,
    [
      ...(api !== undefined ? NGINX_LUA_MODULES.map((m) => `load_module ${m};`) : []),
      `pid ${pidFile};`,
      `error_log ${join(dir, 'logs', 'error.log')} notice;`,
      `worker_processes ${api !== undefined ? 2 : 1};`,
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, `${t}_temp`)};`),
      `  include ${api !== undefined ? luaConf : upstreamFile};`,
      '  server {',
      `    listen 127.0.0.1:${port};`,
      '    location / {',
      `      proxy_pass http://${upstream};`,
      '      proxy_http_version 1.1;',
      '      proxy_set_header Connection "";',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const p = spawnKept(NGINX, ['-p', dir, '-e', join(dir, 'logs', 'error.log'), '-c', config, '-g', 'daemon off;']);
  const proc: NginxProc = {
    ...p,
    output: () => `${p.output()}${readIfThere(join(dir, 'logs', 'error.log'))}`,
    dir,
    port,
    url: `http://127.0.0.1:${port}`,
    upstreamFile,
    upstream,
    pidFile,
    ...(api !== undefined && { api }),
    reloads: () => readIfThere(join(dir, 'logs', 'error.log'), Number.POSITIVE_INFINITY).split('signal 1 (SIGHUP) received').length - 1,
  };
  const apiPort = api === undefined ? undefined : Number(api.split(':')[1]);
  try {
    await waitFor(
      'nginx',
      async () => existsSync(pidFile) && (await accepts(port)) && (apiPort === undefined || (await accepts(apiPort))),
      p.child,
      proc.output,
    );
  } catch (err) {
    await p.stop();
    throw err;
  }
  return proc;
}

function readIfThere(file: string, last = 16_384): string {
  try {
    return readFileSync(file, 'utf8').slice(-last);
  } catch {
    return '';
  }
}
