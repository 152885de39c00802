/**
 * One process of the naming bench's watchers (bench/naming/index.ts forks several): it holds its
 * share of the blocking queries, each on its own connection, and reports when each answer was
 * read, as absolute times (performance.timeOrigin + now: the same clock in every process of the
 * machine). Spreading the watchers over processes keeps the reading of 1,000 answers off one
 * thread, so that the figure is the server's, not the bench client's; and each watcher is a
 * kept-alive socket speaking the few lines of HTTP/1.1 a blocking query needs (a request line,
 * then a response with a content-length), read with JSON.parse: a general client (undici) spent
 * about 0.4 ms of CPU per answer here, as much as the server's work per watcher ten times over.
 *
 * Messages: `{type: 'ask', round, selectors, indexes}` parks one query per watcher (watcher i asks
 * selectors[i % n] with indexes[i % n]); the process answers `{type: 'sent'}` once every query is
 * on its way, then `{type: 'answered', round, arrivals, failures, cpuMs}` once all are answered;
 * `{type: 'change'}` (sent just before the change is made) starts the count of `cpuMs`.
 */
import { connect, type Socket } from 'node:net';
import type { NamingAnswer } from '../../src/api/index.js';

/** What the parent sends first. */
export interface WatchersInit {
  type: 'init';
  url: string;
  token: string;
  watchers: number;
  wait: string;
}

/** One round: park every watcher on these indexes. */
export interface WatchersAsk {
  type: 'ask';
  round: number;
  selectors: string[];
  indexes: number[];
}

/** A round's answers: when each was read (absolute ms), and what went wrong. */
export interface WatchersAnswered {
  type: 'answered';
  round: number;
  arrivals: number[];
  failures: string[];
  cpuMs: number;
}

let init: WatchersInit | undefined;
/** CPU used when the parent said the change is about to be made: what reading the answers costs is counted from there */
let cpuAtChange: NodeJS.CpuUsage | undefined;
let connections: Connection[] = [];

function now(): number {
  return performance.timeOrigin + performance.now();
}

/** One kept-alive connection asking one question at a time. */
class Connection {
  private readonly socket: Socket;
  private chunks: Buffer[] = [];
  private length = 0;
  private pending: { resolve: (a: NamingAnswer) => void; reject: (e: Error) => void } | undefined;

  constructor(url: URL) {
    this.socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.read(chunk));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('the server closed the connection')));
  }

  ask(path: string, token: string): Promise<NamingAnswer> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(`GET ${path} HTTP/1.1\r\nhost: bench\r\nauthorization: Bearer ${token}\r\n\r\n`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
    const all = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.length);
    const end = all.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = all.toString('latin1', 0, end);
    const size = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
    if (!Number.isFinite(size)) {
      this.fail(new Error(`an answer without a content-length: ${head}`));
      return;
    }
    if (all.length < end + 4 + size) {
      this.chunks = [all];
      return;
    }
    this.chunks = [];
    this.length = 0;
    const body = all.toString('utf8', end + 4, end + 4 + size);
    const p = this.pending;
    this.pending = undefined;
    if (!head.startsWith('HTTP/1.1 200')) p?.reject(new Error(`${head.split('\r\n')[0]} ${body}`));
    else p?.resolve(JSON.parse(body) as NamingAnswer);
  }

  private fail(err: Error): void {
    const p = this.pending;
    this.pending = undefined;
    p?.reject(err);
  }
}

async function ask(c: Connection, selector: string, index: number): Promise<NamingAnswer> {
  return c.ask(`/api/v1/naming/${encodeURIComponent(selector)}?index=${index}&wait=${init!.wait}`, init!.token);
}

async function round(msg: WatchersAsk): Promise<void> {
  const n = init!.watchers;
  cpuAtChange = undefined;
  const arrivals: number[] = new Array(n).fill(Number.NaN);
  const failures: string[] = [];
  const parked = Array.from({ length: n }, async (_, i) => {
    const k = i % msg.selectors.length;
    try {
      const a = await ask(connections[i]!, msg.selectors[k]!, msg.indexes[k]!);
      arrivals[i] = now();
      if (a.index === msg.indexes[k]) failures.push(`watcher ${i} answered unchanged (the wait ran out)`);
    } catch (err) {
      failures.push((err as Error).message);
    }
  });
  process.send!({ type: 'sent' });
  await Promise.all(parked);
  const cpu = process.cpuUsage(cpuAtChange);
  const answered: WatchersAnswered = { type: 'answered', round: msg.round, arrivals, failures, cpuMs: (cpu.user + cpu.system) / 1000 };
  process.send!(answered);
}

process.on('message', (msg: WatchersInit | WatchersAsk | { type: 'change' | 'stop' }) => {
  if (msg.type === 'change') {
    cpuAtChange = process.cpuUsage();
  } else if (msg.type === 'init') {
    init = msg;
    const url = new URL(msg.url);
    connections = Array.from({ length: msg.watchers }, () => new Connection(url));
    process.send!({ type: 'ready' });
  } else if (msg.type === 'ask') {
    void round(msg);
  } else if (msg.type === 'stop') {
    for (const c of connections) c.close();
    process.exit(0);
  }
});
