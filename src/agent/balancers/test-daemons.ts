/**
 * For the balancer drivers' tests: a real haproxy and a real nginx started by the test (Debian's
 * packages, installed by .ci/run) as non-daemon children on free loopback ports, and small HTTP
 * servers that count what they serve. Every wait has a deadline; `stop` kills what was started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../net/index.js';

export const HAPROXY = '/usr/sbin/haproxy';
export const NGINX = '/usr/sbin/nginx';
export const KEEPALIVED = '/usr/sbin/keepalived';
/** Debian's libnginx-mod-http-lua (and the ndk module it needs), loaded by `startNginx(..., { lua })`. */
export const NGINX_LUA_MODULES = ['/usr/lib/nginx/modules/ndk_http_module.so', '/usr/lib/nginx/modules/ngx_http_lua_module.so'];

/** A skip reason when nginx or its Lua module is absent (.ci/run installs libnginx-mod-http-lua), else false. */
export function missingLua(): string | false {
  const absent = [NGINX, ...NGINX_LUA_MODULES].find((f) => !existsSync(f));
  return absent === undefined ? false : `${absent} is absent: install Debian's nginx and libnginx-mod-http-lua (.ci/run does)`;
}

/** A skip reason when `binary` is absent (.ci/run installs it), else false. */
export function missing(binary: string): string | false {
  return existsSync(binary) ? false : `${binary} is absent: install Debian's haproxy, nginx and keepalived (.ci/run does)`;
}

/** Waits until `check` answers true, polling every 20 ms, or throws after `ms`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A child started by a test, with its output kept for the failure message. */
export interface Daemon {
  dir: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function startDaemon(binary: string, args: string[], dir: string): Daemon {
  let out = '';
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  child.stderr?.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    dir,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True once something accepts connections on the unix socket or TCP port. */
function accepts(where: string | number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = typeof where === 'string' ? connect(where) : connect(where, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export interface RunningHaproxy extends Daemon {
  socket: string;
  backend: string;
  /** the frontend, sent to the backend */
  url: string;
}

/** haproxy with `stats socket PATH level admin`, an empty `balance roundrobin` backend and an HTTP frontend. */
export async function startHaproxy(): Promise<RunningHaproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'noops-haproxy-'));
  const socket = join(dir, 'admin.sock');
  const port = await freePort();
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      `  stats socket ${socket} level admin`,
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend web',
      `  bind 127.0.0.1:${port}`,
      '  default_backend pool',
      'backend pool',
      '  balance roundrobin',
      '',
    ].join('\n'),
  );
  const d = startDaemon(HAPROXY, ['-db', '-f', config], dir);
  await until(`haproxy's socket (${d.output()})`, async () => {
    if (d.child.exitCode !== null) throw new Error(`haproxy exited: ${d.output()}`);
    return (await accepts(socket)) && (await accepts(port));
  });
  return { ...d, socket, backend: 'pool', url: `http://127.0.0.1:${port}` };
}

export interface RunningNginx extends Daemon {
  url: string;
  pidFile: string;
  /** how many reloads (SIGHUP) nginx has logged */
  reloads(): number;
  /**
   * True once every worker of an older configuration has exited: until then an old worker may
   * still accept a connection (it closes its listeners when the master's QUIT reaches it) and
   * send it to the old upstream.
   */
  settled(): boolean;
}

/**
 * nginx in the foreground, its http block including `upstreamFile` and proxying to `upstream`.
 * With `lua`, the Lua module is loaded and the http block includes `lua.conf` (noops' blocks,
 * `nginxLuaConf`) in place of the upstream file: the caller writes that file and says where.
 */
export async function startNginx(upstreamFile: string, upstream: string, opts: { lua?: string } = {}): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'noops-nginx-'));
  const port = await freePort();
  const pidFile = join(dir, 'nginx.pid');
  const config = join(dir, 'nginx.conf');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${join(dir, k)};`);
  writeFileSync(
    config,
    [
      ...(opts.lua ? NGINX_LUA_MODULES.map((m) => `load_module ${m};`) : []),
      `worker_processes ${opts.lua ? 2 : 1};`,
      'error_log stderr notice;',
      'events { worker_connections 256; }',
      'http {',
      '  access_log off;',
      ...temp,
      `  include ${opts.lua ?? upstreamFile};`,
      `  server { listen 127.0.0.1:${port}; location / { proxy_pass http://${upstream}; proxy_next_upstream ${opts.lua ? 'error timeout' : 'off'}; } }`,
      '}',
      '',
    ].join('\n'),
  );
  const d = startDaemon(NGINX, ['-p', dir, '-e', 'stderr', '-c', config, '-g', `daemon off; pid ${pidFile};`], dir);
  // counted line by line as the log comes, not from output(), which keeps only its tail
  const workers = opts.lua ? 2 : 1;
  let reloads = 0;
  let exited = 0;
  let partial = '';
  d.child.stderr?.on('data', (b: Buffer) => {
    const lines = (partial + b.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes('signal 1 (SIGHUP) received')) reloads++;
      else if (/worker process \d+ exited/.test(line)) exited++;
    }
  });
  await until(`nginx listening (${d.output()})`, async () => {
    if (d.child.exitCode !== null) throw new Error(`nginx exited: ${d.output()}`);
    return existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '' && (await accepts(port));
  });
  return { ...d, url: `http://127.0.0.1:${port}`, pidFile, reloads: () => reloads, settled: () => exited >= reloads * workers };
}

/** A small HTTP server that answers its name and counts requests; `/hold` waits until `release()`. */
export interface Backend {
  name: string;
  port: number;
  hits: number;
  release(): void;
  close(): Promise<void>;
}

export async function startBackend(name: string): Promise<Backend> {
  const held: (() => void)[] = [];
  const backend: Backend = {
    name,
    port: 0,
    hits: 0,
    release: () => {
      for (const end of held.splice(0)) end();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    backend.hits++;
    const answer = () => res.end(name);
    if (req.url === '/hold') held.push(answer);
    else answer();
  });
  server.keepAliveTimeout = 500;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.port = (server.address() as { port: number }).port;
  const close = backend.close;
  backend.close = async () => {
    backend.release();
    server.closeAllConnections();
    await close();
  };
  return backend;
}

/**
 * GET `url` once on a new connection, the body (the backend's name). A kept-alive connection may
 * be one an old nginx worker closes as it finishes after a reload: the race of every keep-alive client.
 */
export async function hit(url: string): Promise<string> {
  const res = await fetch(url, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5000) });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${body}`);
  return body;
}
