/**
 * Fetching one range of a package from a peer (peer-server.ts), with this agent's ticket, into a
 * buffer of the piece's size. A peer at an http: URL (every peer unless it joined with an https
 * `--peer-url`) is read with peer-socket.ts: the kernel writes the body straight into the piece's
 * buffer (node:http's client cost 2.5 to 4 times the CPU a piece: a buffer of every 64 KiB, its
 * parsing, a copy into the piece, and the collector after them). An https: peer goes through
 * node:https with kept-alive connections, the bytes copied once into the piece's buffer. (Node's
 * fetch cost about a millisecond of CPU per request and copied each piece twice more; a host
 * passes on every piece it receives, so this is its hot path.)
 */
import https from 'node:https';
import { PeerRefused } from './fetch-pieces.js';
import { readRange } from './peer-socket.js';
import { TICKET_SCHEME, type Ticket } from './tickets.js';

/** A piece from a peer that has not come in this long: the peer counts as gone, the tracker names another. */
export const PEER_TIMEOUT_MS = 30_000;

/**
 * Idle connections kept per https peer: an agent fetches at most a few pieces at once from one
 * peer (MAX_UPLOADS_PER_PEER), and a kept connection spares the next piece a handshake. (A plain
 * HTTP peer's are kept by peer-socket.ts, as many.)
 */
const FREE_SOCKETS_PER_PEER = 4;
const tlsPool = new https.Agent({ keepAlive: true, maxFreeSockets: FREE_SOCKETS_PER_PEER, scheduling: 'lifo' });

/**
 * Piece buffers kept for reuse once their piece is written (`releasePiece`): every piece a host
 * receives was a new buffer of 4 MiB or more, and the garbage collector's work on them was a
 * fifth of a fleet's CPU. The spares are only ever the buffers released and not yet taken again,
 * so they number at most the pieces a process had in flight at once: a few for an agent
 * (MAX_FETCHES_PER_AGENT), hundreds for a process that runs many (the simulated fleet). They are
 * held up to SPARE_BYTES, and let go once no piece was asked for in SPARE_IDLE_MS: an agent does
 * not hold its last download's buffers between deploys.
 */
export const SPARE_BYTES = 256 * 1024 * 1024;
let spareCap = SPARE_BYTES;
/** How long spare piece buffers outlive the last piece asked for. */
export const SPARE_IDLE_MS = 20_000;
const spare = new Map<number, Buffer[]>();
let spareBytes = 0;
let lastAsked = 0;
let idleTimer: NodeJS.Timeout | undefined;

function pieceBuffer(length: number): Buffer {
  lastAsked = performance.now();
  const kept = spare.get(length)?.pop();
  if (kept === undefined) return Buffer.allocUnsafe(length);
  spareBytes -= length;
  return kept;
}

/** Lets go of every spare once none was asked for in SPARE_IDLE_MS (looked at again when that time is up). */
function dropWhenIdle(after = SPARE_IDLE_MS): void {
  if (idleTimer !== undefined) return;
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    const idle = performance.now() - lastAsked;
    if (idle >= SPARE_IDLE_MS) {
      spare.clear();
      spareBytes = 0;
    } else if (spareBytes > 0) dropWhenIdle(SPARE_IDLE_MS - idle);
  }, after).unref();
}

/**
 * How many bytes of spare piece buffers this process keeps (SPARE_BYTES unless set): a process
 * that runs many agents at once (the simulated fleet's workers, hundreds each) keeps what they
 * would keep, each on its own host; the spares are still never more than its pieces in flight at once.
 * Spares held beyond a lowered cap are let go at once.
 */
export function keepSpareBytes(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`spare piece bytes must be a whole number of bytes, not ${bytes}`);
  spareCap = bytes;
  if (spareBytes > spareCap) {
    spare.clear();
    spareBytes = 0;
  }
}

/**
 * A piece's buffer from `fetchFromPeer`, no longer needed: kept for the next piece of that size.
 * Only whole buffers of their own memory are kept (never a slice of a larger one).
 */
export function releasePiece(data: Buffer): void {
  if (data.byteOffset !== 0 || data.buffer.byteLength !== data.length) return;
  if (spareBytes + data.length > spareCap) return;
  let list = spare.get(data.length);
  if (!list) {
    // a few piece sizes at a time (the last piece of each package differs): the sizes with no spare go first
    for (const [size, l] of spare) if (l.length === 0) spare.delete(size);
    if (spare.size >= 4) {
      spare.clear();
      spareBytes = 0;
    }
    spare.set(data.length, (list = []));
  }
  if (list.includes(data)) return;
  list.push(data);
  spareBytes += data.length;
  dropWhenIdle();
}

/**
 * `length` bytes of package `sha256` from `offset`, from the peer at `peerUrl`. Throws
 * PeerRefused (busy: 503; gone: any other answer, or more bytes than asked), or the socket's
 * error when the peer cannot be reached or is too slow (PEER_TIMEOUT_MS).
 */
export function fetchFromPeer(
  peerUrl: string,
  sha256: string,
  offset: number,
  length: number,
  ticket: Ticket,
  signal?: AbortSignal,
): Promise<Buffer> {
  const url = new URL(`${peerUrl}/v1/packages/${sha256}`);
  if (url.protocol === 'http:') return plainRange(url, offset, length, ticket, signal);
  return rangeOnce(url, offset, length, ticket, signal, true);
}

/**
 * A range from a peer over plain HTTP (peer-socket.ts: the kernel reads the body into the piece's
 * buffer). A peer that serves over TLS goes through node:https (`rangeOnce`).
 */
async function plainRange(url: URL, offset: number, length: number, ticket: Ticket, signal: AbortSignal | undefined): Promise<Buffer> {
  const buf = pieceBuffer(length);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  try {
    await readRange(
      host,
      Number(url.port || 80),
      { path: `${url.pathname}${url.search}`, host: url.host },
      { range: `bytes=${offset}-${offset + length - 1}`, authorization: `${TICKET_SCHEME} ${ticket}` },
      buf, // exactly `length` bytes (pieceBuffer)
      signal,
      PEER_TIMEOUT_MS,
    );
  } catch (err) {
    releasePiece(buf);
    throw err;
  }
  return buf;
}

/**
 * One attempt over node:https (an https peer). A kept-alive connection that the peer closed just
 * as it was reused fails with ECONNRESET before any answer: that attempt is made again once on a
 * new connection, as Node's http documentation advises (`request.reusedSocket`).
 */
function rangeOnce(
  url: URL,
  offset: number,
  length: number,
  ticket: Ticket,
  signal: AbortSignal | undefined,
  retry: boolean,
): Promise<Buffer> {
  if (url.protocol !== 'https:') return Promise.reject(new PeerRefused('gone', `the peer's address ${url.origin} is not http or https`));
  return new Promise<Buffer>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let settled = false;
    const finish = (err: unknown, data?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(data!);
    };
    const req = https.request(
      url,
      { agent: tlsPool, headers: { range: `bytes=${offset}-${offset + length - 1}`, authorization: `${TICKET_SCHEME} ${ticket}` } },
      (res) => {
        if (res.statusCode !== 206) {
          res.resume();
          return finish(new PeerRefused(res.statusCode === 503 ? 'busy' : 'gone', `the peer ${url.origin} answered ${res.statusCode}`));
        }
        // a peer cannot make this agent hold more than the piece it asked for
        const buf = pieceBuffer(length);
        let got = 0;
        res.on('data', (chunk: Buffer) => {
          if (got + chunk.length > length) {
            req.destroy();
            return finish(new PeerRefused('gone', `the answer is longer than the ${length} bytes asked for`));
          }
          chunk.copy(buf, got);
          got += chunk.length;
        });
        res.once('end', () => {
          if (got === length) return finish(undefined, buf);
          releasePiece(buf);
          finish(undefined, Buffer.from(buf.subarray(0, got)));
        });
        res.once('error', (err) => finish(err));
        res.once('close', () => {
          if (!res.complete) finish(new PeerRefused('gone', `the peer ${url.origin} broke off its answer`));
        });
      },
    );
    const timer = setTimeout(
      () => req.destroy(new Error(`the peer ${url.origin} did not send the piece in ${PEER_TIMEOUT_MS / 1000} s`)),
      PEER_TIMEOUT_MS,
    );
    const onAbort = (): void => {
      req.destroy();
      finish(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (!settled && retry && req.reusedSocket && err.code === 'ECONNRESET') {
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(rangeOnce(url, offset, length, ticket, signal, false));
        return;
      }
      finish(err);
    });
    req.end();
  });
}

/** A response's body, refusing more than `max` bytes (a peer cannot make an agent hold more than a piece). */
export async function readLimited(res: Response, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      got += chunk.length;
      // leaving the loop by a throw cancels the body
      if (got > max) throw new PeerRefused('gone', `the answer is longer than the ${max} bytes asked for`);
      chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    }
  }
  return Buffer.concat(chunks, got);
}
