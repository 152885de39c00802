/**
 * The fan-out's parked polls on bare sockets (plain HTTP only): one connection per agent, as each
 * agent holds its own, and the least work this side can do per answer, so that the fan-out times
 * the server and not its stand-in. Through node:http each answer cost the generator about 50 us
 * (parser, IncomingMessage, events), 0.5 s of its CPU for 10,000 answers on the two cores the
 * server uses too. Here an answer is its bytes gathered until Content-Length says it is whole.
 *
 * What it understands of HTTP/1.1 is what the server answers a poll: a status line, headers with
 * Content-Length, a body; anything else (chunked, no length) is an error, never a guess.
 */
import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  status: number;
  body: string;
  /** performance.now() when its last byte was read */
  at: number;
}

/** One agent's connection: requests sent in turn, each answer read whole. */
export class RawConnection {
  private socket: Socket | undefined;
  private chunks: Buffer[] = [];
  private size = 0;
  private waiting: { resolve(a: RawAnswer): void; reject(e: Error): void } | undefined;
  private failed: Error | undefined;

  /** Connects at the first request (the caller paces how many connect at once). */
  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** GET `path` with the agent's token; resolves with the whole answer. */
  get(path: string, token: string): Promise<RawAnswer> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.waiting) return Promise.reject(new Error('one request at a time'));
    if (this.socket === undefined) {
      const socket = connect({ host: this.host, port: this.port, noDelay: true });
      socket.on('data', (b: Buffer) => this.onData(b));
      socket.on('error', (err) => this.fail(err));
      socket.on('close', () => this.fail(new Error('the server closed the connection')));
      this.socket = socket;
    }
    const socket = this.socket;
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}\r\nAuthorization: Bearer ${token}\r\nConnection: keep-alive\r\n\r\n`);
    });
  }

  close(): void {
    this.socket?.destroy();
  }

  private fail(err: Error): void {
    this.failed ??= err;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(err);
  }

  private onData(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    const end = all.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = all.toString('latin1', 0, end);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) {
      this.fail(new Error(`an answer without Content-Length: ${head.split('\r\n')[0]}`));
      return;
    }
    const total = end + 4 + Number(length[1]);
    if (all.length < total) {
      this.chunks = [all];
      return;
    }
    const at = performance.now();
    const status = Number(head.slice(9, 12));
    const body = all.toString('utf8', end + 4, total);
    const rest = all.subarray(total);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    const w = this.waiting;
    this.waiting = undefined;
    w?.resolve({ status, body, at });
  }
}
