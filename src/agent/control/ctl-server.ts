/**
 * The agent's control socket: HTTP over a unix socket at ROOT/run/ctl.sock, which only root and
 * the agent's own user can reach (the socket is 0600 inside a 0700 folder, so no other user can
 * even find it, whatever the umask was when it was bound). `noops ctl` speaks to it.
 *
 *   GET  /v1/status?name=N            GET  /v1/log?name=N&lines=L&file=F&follow=1 (text)
 *   POST /v1/start|stop|restart {name} GET  /v1/log/files?name=N
 *   POST /v1/signal {name, signal}     GET  /v1/cron?name=N   POST /v1/cron/run {name}
 *   POST /v1/load   POST /v1/nuke      GET  /v1/events?name=N&limit=L
 */
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { NoopsError } from '../../errors/index.js';
import type { Control } from './control.js';

/** Where the socket of the agent whose root is `root` lives. */
export function ctlSocketPath(root: string): string {
  return join(root, 'run', 'ctl.sock');
}

/** A unix socket path holds at most 107 bytes (sun_path is 108 with its NUL). */
const MAX_SOCKET_PATH = 107;
/** 64 KiB: a control request is a name and a signal. */
const MAX_BODY = 64 * 1024;

export class CtlServer {
  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  /**
   * Binds ROOT/run/ctl.sock. A socket left by a dead agent is replaced; one that answers means
   * another agent runs on this root, which is refused.
   */
  static async listen(root: string, control: Control, opts: { afterNuke?: () => void } = {}): Promise<CtlServer> {
    const path = ctlSocketPath(root);
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      throw new NoopsError(
        'NOOPS_E_INPUT',
        `the agent root ${root} is too long for its control socket (${path} is over ${MAX_SOCKET_PATH} bytes)`,
        { hint: 'give the agent a shorter --root' },
      );
    }
    mkdirSync(join(root, 'run'), { recursive: true, mode: 0o700 });
    chmodSync(join(root, 'run'), 0o700);
    if (await answers(path)) {
      throw new NoopsError('NOOPS_E_INPUT', `another agent is running on ${root} (its control socket ${path} answers)`, {
        hint: 'stop it first, or give this agent another --root',
      });
    }
    try {
      unlinkSync(path);
    } catch {
      // no stale socket
    }
    const server = createServer((req, res) => void handle(control, req, res, opts.afterNuke));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    return new CtlServer(server, path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

/** True when something listens on the socket. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

async function handle(control: Control, req: IncomingMessage, res: ServerResponse, afterNuke: (() => void) | undefined): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://ctl');
  const q = url.searchParams;
  const name = q.get('name') ?? undefined;
  const route = `${req.method} ${url.pathname}`;
  try {
    const body = req.method === 'POST' ? await readBody(req) : {};
    const bodyName = typeof body.name === 'string' && body.name !== '' ? body.name : undefined;
    switch (route) {
      case 'GET /v1/status':
        return send(res, control.status(name));
      case 'POST /v1/start':
        return send(res, control.start(bodyName));
      case 'POST /v1/stop':
        return send(res, await control.stop(bodyName));
      case 'POST /v1/restart':
        return send(res, await control.restart(bodyName));
      case 'POST /v1/signal':
        return send(res, control.signal(bodyName, String(body.signal ?? '')));
      case 'GET /v1/log/files':
        return send(res, control.logFiles(name));
      case 'GET /v1/log':
        return await sendLog(control, req, res, name, q);
      case 'GET /v1/cron':
        return send(res, control.cron(name));
      case 'POST /v1/cron/run':
        return send(res, control.runCron(bodyName));
      case 'GET /v1/events':
        return send(res, control.events(name, intParam(q.get('limit'), 50, 'limit')));
      case 'POST /v1/load':
        return send(res, await control.load());
      case 'POST /v1/nuke':
        await control.nuke();
        res.once('finish', () => afterNuke?.());
        return send(res, { nuked: true });
      default:
        throw new NoopsError('NOOPS_E_NOT_FOUND', `no control action ${route}`);
    }
  } catch (err) {
    const e = err instanceof NoopsError ? err : new NoopsError('NOOPS_E_INTERNAL', (err as Error).message);
    if (!res.headersSent) send(res, e.toJSON(), e.status);
    else res.end();
  }
}

async function sendLog(
  control: Control,
  req: IncomingMessage,
  res: ServerResponse,
  name: string | undefined,
  q: URLSearchParams,
): Promise<void> {
  const file = q.get('file') === null ? undefined : intParam(q.get('file'), 1, 'file');
  const text = control.logTail(name, intParam(q.get('lines'), 10, 'lines'), file);
  if (q.get('follow') !== '1') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(text);
    return;
  }
  const stop = new AbortController();
  req.socket.once('close', () => stop.abort());
  const follow = control.logFollow(name, stop.signal, file);
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.write(text);
  for await (const chunk of follow) res.write(chunk);
  res.end();
}

function intParam(raw: string | null, fallback: number, what: string): number {
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new NoopsError('NOOPS_E_INPUT', `${what} must be a whole number, not "${raw}"`);
  return n;
}

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_BODY) reject(new NoopsError('NOOPS_E_INPUT', 'the control request is too large'));
      else parts.push(b);
    });
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      try {
        const v: unknown = text === '' ? {} : JSON.parse(text);
        resolve(typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});
      } catch {
        reject(new NoopsError('NOOPS_E_INPUT', 'the control request is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, value: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}
