/**
 * A lean `fetch` over node:http with a keep-alive pool, for the fleet workers. Node 20's fetch
 * (undici behind the WHATWG API) costs about 1 ms of CPU per small request on the benchmark
 * machine, against about 0.1 ms for node:http: at 10,000 agents heartbeating every 5 s, fetch
 * alone would take more than the machine's two cores, and the benchmark would measure itself.
 * A real agent sends one request every 5 s and does not care. The agents keep using the real
 * ApiClient; only the transport under it is swapped (globalThis.fetch, in the worker only).
 *
 * It does what ApiClient needs: method, headers, a string body, an AbortSignal; the answer is a
 * real `Response` (small bodies whole, packages streamed). Errors look like fetch's: AbortError
 * on abort, TypeError('fetch failed', { cause }) when the connection fails.
 */
import type http from 'node:http';
import { Readable } from 'node:stream';
import { poolFor, requestFor } from './tls.js';

/**
 * Connections per simulated agent, its long poll's included. A real agent holds its own (about
 * two: its poll and one kept alive for the rest); the agents of a worker share theirs, and a
 * request past the limit waits in the worker for one to come free, so after the join the pool
 * hardly opens a connection. Before, it kept at most 1,024 idle connections a worker and opened
 * new ones at every burst (a deploy wakes every agent at once). The server accepts one
 * connection per turn of its event loop (libuv since 1.45), and with 10,000 agents a turn took
 * a second or more: the new connections waited in a full accept queue, the kernel dropped the
 * rest, and their connects took tens of seconds (40,000 reports given up after 60 s in one run).
 */
export const SOCKETS_PER_AGENT = 1.2;

/** Unsized (join-only.ts): no limit, and 1,024 idle connections kept, as before. */
let poolOptions: http.AgentOptions = { keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024, scheduling: 'lifo' };

/** Sizes the pool for this worker's `agents` (before the first request). */
export function sizePool(agents: number): void {
  const sockets = Math.max(16, Math.ceil(agents * SOCKETS_PER_AGENT));
  poolOptions = { ...poolOptions, maxSockets: sockets, maxFreeSockets: sockets };
}
/** One pool per scheme: https (the TLS variant, see tls.ts) pools trust the server's CA. */
const pools = new Map<string, http.Agent>();
function pool(url: URL): http.Agent {
  let p = pools.get(url.protocol);
  if (!p) pools.set(url.protocol, (p = poolFor(url.href, poolOptions)));
  return p;
}

/** Responses whose path starts with this are streamed (packages); the rest are read whole. */
const STREAMED = '/api/v1/artifacts/';
/**
 * A package this small (by its Content-Length) is read whole all the same, its body made from
 * the one buffer: a socket's stream made a web stream cost 10,000 agents' first deploy of a
 * tiny release more than its bytes.
 */
const STREAM_ABOVE = 64 * 1024;

export function leanFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  return send(url, init, true);
}

/**
 * One attempt. A kept-alive connection that the server closed just as it was reused fails
 * with ECONNRESET before any answer: that attempt is retried once on a new connection, as
 * Node's http documentation advises (`request.reusedSocket`).
 */
function send(url: URL, init: RequestInit, retry: boolean): Promise<Response> {
  const signal = init.signal ?? undefined;
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    // ApiClient passes a plain object; anything else goes through Headers as fetch would take it
    const headers = isPlain(init.headers) ? init.headers : Object.fromEntries(new Headers(init.headers));
    const req = requestFor(url)(url, { method: init.method ?? 'GET', agent: pool(url), headers }, (res) => {
      const status = res.statusCode ?? 500;
      if (url.pathname.startsWith(STREAMED) && !(Number(res.headers['content-length']) <= STREAM_ABOVE)) {
        resolve(new Response(Readable.toWeb(res) as ReadableStream, { status, headers: headersOf(res) }));
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () =>
        resolve(new LeanResponse(status, res, status === 204 || status === 304 ? null : Buffer.concat(chunks)) as unknown as Response),
      );
      res.once('error', (err) => reject(new TypeError('fetch failed', { cause: err })));
    });
    const onAbort = (): void => {
      req.destroy();
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('close', () => signal?.removeEventListener('abort', onAbort));
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (signal?.aborted) return reject(abortError());
      if (retry && req.reusedSocket && err.code === 'ECONNRESET') return resolve(send(url, init, false));
      reject(new TypeError('fetch failed', { cause: err }));
    });
    req.end(typeof init.body === 'string' ? init.body : undefined);
  });
}

function isPlain(h: RequestInit['headers']): h is Record<string, string> {
  return h === undefined || Object.getPrototypeOf(h) === Object.prototype;
}

/** A node:http answer's headers as fetch's Headers. */
function headersOf(res: http.IncomingMessage): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(', ') : v);
  return out;
}

/**
 * A small answer, read whole: what ApiClient reads of a Response (status, ok, a header, the
 * text or JSON) without the web stream, the Headers and the body mixin a real one makes at
 * every answer (a fifth of a worker's garbage at 10,000 agents). `body` and the rest make the
 * real Response on demand.
 */
class LeanResponse {
  #real: Response | undefined;
  #headers: Headers | undefined;
  constructor(
    readonly status: number,
    private readonly res: http.IncomingMessage,
    private readonly bytes: Buffer | null,
  ) {}
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }
  get statusText(): string {
    return this.res.statusMessage ?? '';
  }
  get headers(): Headers {
    this.#headers ??= headersOf(this.res);
    return this.#headers;
  }
  get body(): ReadableStream<Uint8Array> | null {
    return this.real().body;
  }
  async text(): Promise<string> {
    return this.bytes === null ? '' : this.bytes.toString('utf8');
  }
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    return this.real().arrayBuffer();
  }
  private real(): Response {
    this.#real ??= new Response(this.bytes, { status: this.status, headers: this.headers });
    return this.#real;
  }
}

function abortError(): Error {
  return new DOMException('This operation was aborted', 'AbortError');
}
