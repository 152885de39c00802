/**
 * A range of a package from a peer over plain HTTP/1.1, read by the kernel straight into the
 * piece's buffer: the socket's `onread` is pointed at the part of the buffer still to fill, so the
 * body costs no chunk of its own, no copy and no garbage (node:http's client gave every 64 KiB
 * its own buffer, parsed it and had it copied into the piece: a third of a receiving host's CPU
 * beside the piece's sha256). Only the answer a peer-server.ts sends is taken: `206` with a
 * `content-length` of exactly the bytes asked, no other framing (no chunks), headers within
 * MAX_HEADER_BYTES; anything else is the peer's fault (PeerRefused 'gone'). Connections are kept
 * per peer between pieces, as node:http's agent kept them.
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
  /** the end of the request: `lost` when the connection failed or closed (not the answer, a deadline or an abort) */
  done(err: Error | undefined, lost?: boolean): void;
}

/** A kept-alive connection to one peer, with what it reads into now. */
interface Conn {
  socket: Socket;
  key: string;
  head: Buffer;
  reading: Reading | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  /** whether it served a request before (a reused connection the peer closed is tried again once) */
  reused: boolean;
  closed: boolean;
}

const idle = new Map<string, Conn[]>();

/** What is asked: `GET path` with a `host` header (the URL's host and port as written). */
export interface RangeTarget {
  path: string;
  host: string;
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
  // what goes on the wire is one request line and its headers: no line breaks of its own
  const fields = [target.path, target.host, ...Object.entries(headers).flat()];
  if (fields.some((f) => /[\r\n]/.test(f))) return Promise.reject(new Error('a request to a peer cannot hold a line break'));
  return attempt(address, port, target, headers, piece, signal, timeoutMs, true);
}

function attempt(
  host: string,
  port: number,
  target: RangeTarget,
  headers: Record<string, string>,
  piece: Buffer,
  signal: AbortSignal | undefined,
  timeoutMs: number,
  retry: boolean,
): Promise<void> {
  const key = `${host}:${port}`;
  const conn = takeIdle(key) ?? open(host, port, key);
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      release(conn, false);
      reject(signal.reason);
      return;
    }
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`the peer ${target.host} did not send the piece in ${timeoutMs / 1000} s`)), timeoutMs);
    const onAbort = (): void => finish(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    const wasReused = conn.reused;
    function finish(err: Error | undefined, lost = false): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      const started = conn.reading !== undefined && (conn.reading.headLength > 0 || conn.reading.got > 0);
      conn.reading = undefined;
      if (err) {
        destroy(conn);
        // a kept connection the peer closed just as it was reused (no byte of an answer): once more on a new one
        if (retry && lost && wasReused && !started && !signal?.aborted) {
          attempt(host, port, target, headers, piece, signal, timeoutMs, false).then(resolve, reject);
          return;
        }
        reject(err);
        return;
      }
      release(conn, true);
      resolve();
    }
    conn.reading = { piece, got: 0, headLength: 0, headersDone: false, done: finish };
    let request = `GET ${target.path} HTTP/1.1\r\nhost: ${target.host}\r\nconnection: keep-alive\r\n`;
    for (const [name, value] of Object.entries(headers)) request += `${name}: ${value}\r\n`;
    conn.socket.write(`${request}\r\n`);
  });
}

function open(host: string, port: number, key: string): Conn {
  const head = Buffer.allocUnsafe(MAX_HEADER_BYTES);
  const conn: Conn = {
    socket: undefined as unknown as Socket,
    key,
    head,
    reading: undefined,
    idleTimer: undefined,
    reused: false,
    closed: false,
  };
  conn.socket = connect({
    host,
    port,
    noDelay: true,
    onread: {
      // where the next read goes: the headers' buffer until they ended, then the rest of the piece
      buffer: () => readInto(conn),
      callback: (n, buf) => {
        received(conn, n, buf);
        return true;
      },
    },
  });
  conn.socket.on('error', (err) => {
    conn.closed = true;
    conn.reading?.done(err, true);
  });
  conn.socket.on('close', () => {
    conn.closed = true;
    forgetIdle(conn);
    conn.reading?.done(new PeerRefused('gone', `the peer ${key} closed the connection before the whole piece came`), true);
  });
  return conn;
}

/** The buffer the socket reads into next. */
function readInto(conn: Conn): Uint8Array {
  const r = conn.reading;
  if (r === undefined || !r.headersDone) return conn.head.subarray(r?.headLength ?? 0);
  // the body is whole: a byte more is an error (the scratch space catches it)
  if (r.got >= r.piece.length) return conn.head;
  return r.piece.subarray(r.got);
}

/** `n` bytes were read into `buf` (what `readInto` gave). */
function received(conn: Conn, n: number, buf: Uint8Array): void {
  const r = conn.reading;
  if (r === undefined) {
    // bytes with no request waiting: the peer sent what nobody asked for
    destroy(conn);
    return;
  }
  const refused = r.headersDone ? bodyRead(r, n, buf === conn.head) : headRead(conn, r, n);
  if (refused !== undefined) r.done(refused);
  else if (r.headersDone && r.got === r.piece.length) r.done(undefined);
}

/** `n` more bytes of the head: once it is whole, checked, and the body bytes read with it moved to the piece. */
function headRead(conn: Conn, r: Reading, n: number): PeerRefused | undefined {
  r.headLength += n;
  const end = conn.head.subarray(0, r.headLength).indexOf('\r\n\r\n');
  if (end < 0)
    return r.headLength >= MAX_HEADER_BYTES
      ? new PeerRefused('gone', `the peer ${conn.key} sent more than ${MAX_HEADER_BYTES} bytes of headers`)
      : undefined;
  const why = checkHead(conn.head.toString('latin1', 0, end), r.piece.length);
  if (why !== undefined) return why;
  const body = r.headLength - (end + 4);
  if (body > r.piece.length) return new PeerRefused('gone', `the answer is longer than the ${r.piece.length} bytes asked for`);
  conn.head.copy(r.piece, 0, end + 4, r.headLength);
  r.headersDone = true;
  r.got = body;
  return undefined;
}

/** `n` more bytes of the body, read into the piece (or, past its end, into the scratch space: `overflow`). */
function bodyRead(r: Reading, n: number, overflow: boolean): PeerRefused | undefined {
  if (overflow || r.got + n > r.piece.length)
    return new PeerRefused('gone', `the answer is longer than the ${r.piece.length} bytes asked for`);
  r.got += n;
  return undefined;
}

/** Why an answer's head is not a range of `length` bytes (undefined: it is). */
function checkHead(head: string, length: number): PeerRefused | undefined {
  const lines = head.split('\r\n');
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(`${lines[0]} `);
  if (!status) return new PeerRefused('gone', 'the peer did not answer in HTTP/1.1');
  const code = Number(status[1]);
  if (code !== 206) return new PeerRefused(code === 503 ? 'busy' : 'gone', `the peer answered ${code}`);
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
  if (contentLength !== length) return new PeerRefused('gone', `the peer sent ${contentLength ?? 'no'} bytes for the ${length} asked for`);
  return undefined;
}

function takeIdle(key: string): Conn | undefined {
  const list = idle.get(key);
  const conn = list?.pop();
  if (list && list.length === 0) idle.delete(key);
  if (conn === undefined) return undefined;
  clearTimeout(conn.idleTimer);
  conn.socket.ref();
  conn.reused = true;
  return conn;
}

/** A connection done with its request: kept for the next one (`keep`) when there is room, else closed. */
function release(conn: Conn, keep: boolean): void {
  let list = idle.get(conn.key);
  if (!keep || conn.closed || (list?.length ?? 0) >= IDLE_PER_PEER) {
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
