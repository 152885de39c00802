/**
 * The agent's Open-Falcon push API, as falcon-agent serves it: `POST /v1/push` on 127.0.0.1:1988
 * takes a JSON list of `{endpoint, metric, timestamp, step, value, counterType, tags}`, checked by
 * `checkFalconPush` (src/api/falcon.ts), and answers `success`. A body that is not such a list, or
 * that holds an invalid item, is answered 400 with the reason of each invalid item (the valid
 * ones are taken all the same, as Falcon's transfer takes them). The points join the agent's
 * queue and leave with its next report.
 *
 * Only loopback peers are answered unless the address it listens on is not a loopback one (the
 * person asked for the network, as falcon-agent's `:1988`). The body is limited (PUSH_MAX_BYTES).
 *
 * @example
 *   const push = await PushServer.listen('127.0.0.1:1988', { endpoint: 'web-1', take: (p) => queue.push(p) });
 *   // curl -d '[{"endpoint":"web-1","metric":"q.len","timestamp":1700000000,"step":60,"value":3,"counterType":"GAUGE","tags":"q=a"}]' 127.0.0.1:1988/v1/push
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkFalconPush, type FalconPoint, MAX_PUSH_ITEMS } from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';
import { parseListen } from '../../net/index.js';

/** The largest push body: MAX_PUSH_ITEMS items of about 400 bytes (a long metric and tags). */
export const PUSH_MAX_BYTES = 4 * 1024 * 1024;
/** falcon-agent's address. */
export const DEFAULT_PUSH_LISTEN = '127.0.0.1:1988';
/** The host of `--push-listen :PORT`: every interface. */
const PUSH_DEFAULT_HOST = '0.0.0.0';

/** What the push server does with what it took. */
export interface PushServerOptions {
  /** the host's name in noops: a point for another endpoint is refused (the server takes it at /api/v1/push) */
  endpoint: string;
  take: (points: FalconPoint[]) => void;
  /** the clock, in ms (tests) */
  now?: () => number;
  /** answer loopback peers only (default: when the address is a loopback one) */
  loopbackOnly?: boolean;
}

/**
 * `--push-listen`: `off` is none (undefined); an address is checked (NOOPS_E_INPUT when it is
 * not `HOST:PORT`) and returned as given.
 */
export function pushListenFlag(raw: string): string | undefined {
  if (raw.trim() === 'off') return undefined;
  if (parseListen(raw, PUSH_DEFAULT_HOST) === undefined)
    throw new NoopsError(
      'NOOPS_E_INPUT',
      `--push-listen "${raw}" must be HOST:PORT (e.g. 127.0.0.1:1988, 127.0.0.1:0 for a free port) or off`,
    );
  return raw.trim();
}

/** Whether an address is the machine's own: 127.0.0.0/8, ::1, or 127.x mapped into IPv6, or localhost. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.replace(/^::ffff:/i, '');
  return a === '::1' || a === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(a);
}

/** See the file's comment. */
export class PushServer {
  private constructor(
    private readonly server: Server,
    /** the address it listens on, e.g. 127.0.0.1:1988 */
    readonly address: string,
  ) {}

  /**
   * Listens on `addr` (`HOST:PORT`; port 0 for a free one). Rejects with NOOPS_E_INPUT for an
   * address that is none, and with the listen error (EADDRINUSE...) when it cannot listen.
   */
  static async listen(addr: string, opts: PushServerOptions): Promise<PushServer> {
    const at = parseListen(addr, PUSH_DEFAULT_HOST);
    if (at === undefined) throw new NoopsError('NOOPS_E_INPUT', `--push-listen "${addr}" must be HOST:PORT (e.g. 127.0.0.1:1988) or off`);
    const loopbackOnly = opts.loopbackOnly ?? isLoopback(at.host);
    const server = createServer((req, res) => void handle(req, res, opts, loopbackOnly));
    server.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address() as AddressInfo;
    return new PushServer(server, a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
  }

  /** Stops listening and closes its connections. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function answer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
  res.end(status === 200 ? text : `${text}\n`);
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: PushServerOptions, loopbackOnly: boolean): Promise<void> {
  if (loopbackOnly && !isLoopback(req.socket.remoteAddress)) return answer(res, 403, 'pushes are taken from this machine only');
  const path = (req.url ?? '').split('?')[0];
  if (path !== '/v1/push') return answer(res, 404, 'not found: POST /v1/push takes Falcon points');
  if (req.method !== 'POST') return answer(res, 405, 'POST a JSON list of Falcon points to /v1/push');
  let body: string;
  try {
    body = await readBody(req);
  } catch (err) {
    return answer(res, 413, (err as Error).message);
  }
  if (body.trim() === '') return answer(res, 400, 'body is blank: POST a JSON list of Falcon points');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    return answer(res, 400, `cannot decode body: not JSON (${(err as Error).message})`);
  }
  const now = Math.floor((opts.now?.() ?? Date.now()) / 1000);
  const checked = checkFalconPush(parsed, now);
  if (checked === undefined) {
    const why = Array.isArray(parsed) ? `more than ${MAX_PUSH_ITEMS} items: split it` : 'not a JSON list';
    return answer(res, 400, `cannot take the body: ${why} of {endpoint, metric, timestamp, step, value, counterType, tags}`);
  }
  const reasons = checked.invalid.map((i) => `item ${i.index}: ${i.reason}`);
  const taken: FalconPoint[] = [];
  for (const p of checked.points) {
    if (p.endpoint === opts.endpoint) taken.push(p);
    else
      reasons.push(`endpoint "${p.endpoint}" is not this host ("${opts.endpoint}"): push other hosts' points to the server's /api/v1/push`);
  }
  if (taken.length > 0) opts.take(taken);
  if (reasons.length === 0) return answer(res, 200, 'success');
  const shown = reasons.slice(0, 20).join('\n');
  const more = reasons.length > 20 ? `\n... and ${reasons.length - 20} more` : '';
  answer(res, 400, `${taken.length} of ${Array.isArray(parsed) ? parsed.length : 0} items taken; refused:\n${shown}${more}`);
}

/** The body as text, refused past PUSH_MAX_BYTES (the rest is not read). */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    const tooBig = (): Error => new Error(`the body is larger than ${PUSH_MAX_BYTES} bytes: split the push`);
    if (Number.isFinite(declared) && declared > PUSH_MAX_BYTES) {
      req.resume();
      reject(tooBig());
      return;
    }
    const chunks: Buffer[] = [];
    let seen = 0;
    req.on('data', (c: Buffer) => {
      seen += c.length;
      if (seen > PUSH_MAX_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooBig());
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
