/**
 * A range of a package from a peer over plain HTTP/1.1, read by the kernel straight into the
 * piece's buffer: the socket's `onread` is pointed at the part of the buffer still to fill, so the
 * body costs no chunk of its own, no copy and no garbage (node:http's client gave every 64 KiB
 * its own buffer, parsed it and had it copied into the piece: a third of a receiving host's CPU
 * beside the piece's sha256). Only the answer a peer-server.ts sends is taken: `206` with a
 * `content-length` of exactly the bytes asked, no other framing (no chunks), headers within
 * MAX_HEADER_BYTES; a 503 is PeerRefused 'busy', anything else 'gone'. Connections are kept per
 * peer between pieces, as node:http's agent kept them (after a whole answer, or a short refusal
 * that came whole); any other ending closes the connection, so nothing of one answer is read as
 * the next.
 */
import { connect, type Socket } from 'node:net';
import { PeerRefused } from './fetch-pieces.js';

/** An answer's status line and headers must fit in this (a peer sends a few hundred bytes). */
export const MAX_HEADER_BYTES = 8 * 1024;
/** Idle connections kept per peer (as FREE_SOCKETS_PER_PEER in peer-fetch.ts). */
const IDLE_PER_PEER = 4;
/** An idle connection is closed after this: before the peer's own keep-alive timeout (30 s, peer-server.ts). */
const IDLE_MS = 20_000;

/** What one request reads into: its piece buffer, after the headers. */
interface Reading {
  piece: Buffer;
  /** body bytes in so far */
  got: number;
  /** header bytes in so far (in `head`), until the headers ended */
  headLength: number;
  headersDone: boolean;
  /** the end of the request, and what becomes of its connection (by default: kept after an answer, closed after an error) */
  done(err: Error | undefined, end?: End): void;
}

/**
 * What becomes of a connection when its request ends: kept for the next one; closed; or lost (it
 * failed or the peer closed it: a kept one that had not begun an answer is worth one more try).
 */
type End = 'keep' | 'close' | 'lost';

/** A kept-alive connection to one peer, with what it reads into now. */
interface Conn {
  socket: Socket;
  key: string;
  head: Buffer;
  reading: Reading | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  closed: boolean;
}

const idle = new Map<string, Conn[]>();

/** What is asked: `GET path` with a `host` header (the URL's host and port as written). */
export interface RangeTarget {
  path: string;
  host: string;
}

/** One request: to whom, what, and where its answer goes. */
interface Ask {
  address: string;
  port: number;
  target: RangeTarget;
  headers: Record<string, string>;
  piece: Buffer;
  signal: AbortSignal | undefined;
  timeoutMs: number;
}

/**
 * Asks the peer at `address:port` for `target` with `headers` (the range, the ticket), and reads
 * the answer's body into `piece`, which must be exactly as long as the range. Resolves when it is
 * all in; rejects with PeerRefused for an answer that is not that range (503: 'busy'), with the
 * socket's error, or when `timeoutMs` pass first. A kept connection that the peer closed just as
 * it was reused is tried once more on a new one (as node:http's `reusedSocket` advice).
 */
export function readRange(
  address: string,
  port: number,
  target: RangeTarget,
  headers: Record<string, string>,
  piece: Buffer,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  // what goes on the wire is one request line and its headers: no line breaks of its own
  const fields = [target.path, target.host, ...Object.entries(headers).flat()];
  if (fields.some((f) => /[\r\n]/.test(f))) return Promise.reject(new Error('a request to a peer cannot hold a line break'));
  return attempt({ address, port, target, headers, piece, signal, timeoutMs }, takeIdle(`${address}:${port}`));
}

/** One try of `ask` on `kept` (a kept connection) or, without one, on a new connection. */
function attempt(ask: Ask, kept: Conn | undefined): Promise<void> {
  const { target, signal, timeoutMs } = ask;
  const conn = kept ?? open(ask.address, ask.port);
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`the peer ${target.host} did not send the piece in ${timeoutMs / 1000} s`)), timeoutMs);
    const onAbort = (): void => finish(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    function finish(err: Error | undefined, end: End = err ? 'close' : 'keep'): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      const started = conn.reading !== undefined && conn.reading.headLength > 0;
      conn.reading = undefined;
      if (end === 'keep') release(conn);
      else destroy(conn);
      // a kept connection the peer closed just as it was reused (no byte of an answer): once more on a new one
      if (err && end === 'lost' && kept !== undefined && !started && !signal?.aborted) {
        attempt(ask, undefined).then(resolve, reject);
        return;
      }
      if (err) reject(err);
      else resolve();
    }
    conn.reading = { piece: ask.piece, got: 0, headLength: 0, headersDone: false, done: finish };
    let request = `GET ${target.path} HTTP/1.1\r\nhost: ${target.host}\r\nconnection: keep-alive\r\n`;
    for (const [name, value] of Object.entries(ask.headers)) request += `${name}: ${value}\r\n`;
    conn.socket.write(`${request}\r\n`);
  });
}

function open(host: string, port: number): Conn {
  const key = `${host}:${port}`;
  const head = Buffer.allocUnsafe(MAX_HEADER_BYTES);
  const conn: Conn = {
    socket: undefined as unknown as Socket,
    key,
    head,
    reading: undefined,
    idleTimer: undefined,
    closed: false,
  };
  conn.socket = connect({
    host,
    port,
    noDelay: true,
    onread: {
      // where the next read goes: the headers' buffer until they ended, then the rest of the piece
      buffer: () => readInto(conn),
      callback: (n) => {
        received(conn, n);
        return true;
      },
    },
  });
  conn.socket.on('error', (err) => {
    conn.closed = true;
    forgetIdle(conn);
    conn.reading?.done(err, 'lost');
  });
  conn.socket.on('close', () => {
    conn.closed = true;
    forgetIdle(conn);
    conn.reading?.done(new PeerRefused('gone', `the peer ${key} closed the connection before the whole piece came`), 'lost');
  });
  return conn;
}

/**
 * The buffer the socket reads into next: the rest of the piece while a body comes (never more than
 * it asked for: the request ends the moment the piece is full), else the head's buffer. Bytes
 * with no request waiting close the connection (`received`); bytes sent after a whole answer that
 * come once the connection was reused are read as the next answer's head, and refused there.
 */
function readInto(conn: Conn): Uint8Array {
  const r = conn.reading;
  if (r === undefined || !r.headersDone) return conn.head.subarray(r?.headLength ?? 0);
  return r.piece.subarray(r.got);
}

/** `n` bytes were read into what `readInto` gave. */
function received(conn: Conn, n: number): void {
  const r = conn.reading;
  if (r === undefined) {
    // bytes with no request waiting: the peer sent what nobody asked for
    destroy(conn);
    return;
  }
  if (r.headersDone)
    r.got += n; // into the rest of the piece: never past its end
  else {
    const refused = headRead(conn, r, n);
    if (refused !== undefined) {
      r.done(refused.err, refused.end);
      return;
    }
  }
  if (r.headersDone && r.got === r.piece.length) r.done(undefined);
}

/**
 * `n` more bytes of the head: once it is whole and checked, the body bytes read with it go to the
 * piece. A refusal whose whole (short) body came with its head (a busy peer's 503) keeps the
 * connection for the next piece, as node:http's agent did; any other refusal closes it.
 */
function headRead(conn: Conn, r: Reading, n: number): { err: PeerRefused; end: End } | undefined {
  r.headLength += n;
  const end = conn.head.subarray(0, r.headLength).indexOf('\r\n\r\n');
  const gone = (message: string): { err: PeerRefused; end: End } => ({ err: new PeerRefused('gone', message), end: 'close' });
  if (end < 0)
    return r.headLength >= MAX_HEADER_BYTES ? gone(`the peer ${conn.key} sent more than ${MAX_HEADER_BYTES} bytes of headers`) : undefined;
  const body = r.headLength - (end + 4);
  const head = parseHead(conn.head.toString('latin1', 0, end));
  if (head instanceof PeerRefused) return { err: head, end: 'close' };
  if (head.status !== 206)
    return {
      err: new PeerRefused(head.status === 503 ? 'busy' : 'gone', `the peer answered ${head.status}`),
      end: head.contentLength === body ? 'keep' : 'close',
    };
  if (head.contentLength !== r.piece.length)
    return gone(`the peer sent ${head.contentLength ?? 'no'} bytes for the ${r.piece.length} asked for`);
  if (body > r.piece.length) return gone(`the answer is longer than the ${r.piece.length} bytes asked for`);
  conn.head.copy(r.piece, 0, end + 4, r.headLength);
  r.headersDone = true;
  r.got = body;
  return undefined;
}

/** An answer's status and content-length, or why it cannot be read (not HTTP/1.1, chunks, no single length). */
function parseHead(head: string): { status: number; contentLength: number | undefined } | PeerRefused {
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(`${lines[0]} `);
  if (!status) return new PeerRefused('gone', 'the peer did not answer in HTTP/1.1');
  let contentLength: number | undefined;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (contentLength !== undefined || !/^\d{1,15}$/.test(value))
        return new PeerRefused('gone', 'the peer sent no single content-length');
      contentLength = Number(value);
    } else if (name === 'transfer-encoding') return new PeerRefused('gone', 'the peer sent its answer in chunks');
  }
  return { status: Number(status[1]), contentLength };
}

/** A kept connection to `key`, if one is idle (and still open). */
function takeIdle(key: string): Conn | undefined {
  // a connection that closed is no longer listed (every path that closes one calls forgetIdle)
  const list = idle.get(key);
  const conn = list?.pop();
  if (list?.length === 0) idle.delete(key);
  if (conn === undefined) return undefined;
  clearTimeout(conn.idleTimer);
  conn.socket.ref();
  return conn;
}

/** A connection done with its request: kept for the next one when there is room, else closed. */
function release(conn: Conn): void {
  let list = idle.get(conn.key);
  if (conn.closed || (list?.length ?? 0) >= IDLE_PER_PEER) {
    destroy(conn);
    return;
  }
  if (list === undefined) idle.set(conn.key, (list = []));
  list.push(conn);
  conn.socket.unref();
  conn.idleTimer = setTimeout(() => destroy(conn), IDLE_MS);
  conn.idleTimer.unref();
}

function forgetIdle(conn: Conn): void {
  clearTimeout(conn.idleTimer);
  const list = idle.get(conn.key);
  const i = list?.indexOf(conn) ?? -1;
  if (i >= 0) list!.splice(i, 1);
  if (list?.length === 0) idle.delete(conn.key);
}

function destroy(conn: Conn): void {
  conn.closed = true;
  forgetIdle(conn);
  conn.socket.destroy();
}
