/**
 * The client of an agent's control socket (see ctl-server.ts), used by `noops ctl` and tests.
 *
 * @example
 *   const ctl = new CtlClient('/var/lib/noops/agent');
 *   const watches = await ctl.get<WatchView[]>('/v1/status');
 */
import { request, type IncomingMessage } from 'node:http';
import { isErrorCode, NoopsError } from '../../errors/index.js';
import { ctlSocketPath } from './ctl-server.js';

export class CtlClient {
  readonly socketPath: string;

  constructor(readonly root: string) {
    this.socketPath = ctlSocketPath(root);
  }

  get<R>(path: string, params: Record<string, string | number | undefined> = {}): Promise<R> {
    return this.#json('GET', withQuery(path, params));
  }

  post<R>(path: string, body: Record<string, unknown> = {}): Promise<R> {
    return this.#json('POST', path, body);
  }

  /** Streams a text answer (a followed log) to `onData` until it ends or `signal` aborts. */
  async stream(
    path: string,
    params: Record<string, string | number | undefined>,
    onData: (text: string) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const res = await this.#open('GET', withQuery(path, params), undefined, signal);
    if (res.statusCode !== 200) throw decode(res.statusCode ?? 500, await readAll(res));
    res.setEncoding('utf8');
    await new Promise<void>((resolve) => {
      res.on('data', (chunk: string) => onData(chunk));
      res.once('end', resolve);
      res.once('close', resolve);
      res.once('error', () => resolve());
    });
  }

  async #json<R>(method: string, path: string, body?: unknown): Promise<R> {
    const res = await this.#open(method, path, body);
    const text = await readAll(res);
    if (res.statusCode !== 200) throw decode(res.statusCode ?? 500, text);
    return JSON.parse(text) as R;
  }

  #open(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          signal,
          headers: data === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
        },
        resolve,
      );
      req.once('error', (err: NodeJS.ErrnoException) => reject(this.#unreachable(err)));
      req.end(data);
    });
  }

  #unreachable(err: NodeJS.ErrnoException): Error {
    if (err.name === 'AbortError') return err;
    if (err.code === 'EACCES' || err.code === 'EPERM') {
      return new NoopsError(
        'NOOPS_E_FORBIDDEN',
        `cannot open ${this.socketPath}: only root and the agent's own user may control the agent`,
        {
          hint: 'run noops ctl as root (sudo) or as the user the agent runs as',
        },
      );
    }
    return new NoopsError('NOOPS_E_AGENT_UNREACHABLE', `no agent answers on ${this.socketPath} (${err.code ?? err.message})`, {
      cause: err,
    });
  }
}

function withQuery(path: string, params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s === '' ? path : `${path}?${s}`;
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (b: Buffer) => parts.push(b));
    res.once('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.once('error', reject);
  });
}

function decode(status: number, text: string): NoopsError {
  let body: { code?: unknown; message?: unknown; hint?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: the status says enough
  }
  const code = isErrorCode(body.code) ? body.code : 'NOOPS_E_INTERNAL';
  const message = typeof body.message === 'string' ? body.message : `the agent answered HTTP ${status}`;
  return new NoopsError(code, message, typeof body.hint === 'string' ? { hint: body.hint } : undefined);
}
