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
import { pieceBuffer, releasePiece } from './piece-buffers.js';
import { readRange } from './peer-socket.js';
import { KEYED_TICKET_HEADER, TICKET_SCHEME, type Ticket } from './tickets.js';

export { keepSpareBytes, releasePiece, SPARE_BYTES, SPARE_IDLE_MS } from './piece-buffers.js';

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
 * `length` bytes of package `sha256` from `offset`, from the peer at `peerUrl`, with this agent's
 * signed ticket and, when the tracker gave one for that peer, its keyed ticket beside it. Throws
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
  keyed?: Ticket,
): Promise<Buffer> {
  const url = new URL(`${peerUrl}/v1/packages/${sha256}`);
  const headers = {
    range: `bytes=${offset}-${offset + length - 1}`,
    authorization: `${TICKET_SCHEME} ${ticket}`,
    ...(keyed !== undefined && { [KEYED_TICKET_HEADER]: keyed }),
  };
  if (url.protocol === 'http:') return plainRange(url, length, headers, signal);
  return rangeOnce(url, length, headers, signal, true);
}

/**
 * A range from a peer over plain HTTP (peer-socket.ts: the kernel reads the body into the piece's
 * buffer). A peer that serves over TLS goes through node:https (`rangeOnce`).
 */
async function plainRange(url: URL, length: number, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<Buffer> {
  const buf = pieceBuffer(length);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  try {
    await readRange(
      host,
      Number(url.port || 80),
      { path: `${url.pathname}${url.search}`, host: url.host },
      headers,
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
  length: number,
  headers: Record<string, string>,
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
    const req = https.request(url, { agent: tlsPool, headers }, (res) => {
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
    });
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
        resolve(rangeOnce(url, length, headers, signal, false));
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
