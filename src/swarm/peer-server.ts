/**
 * An agent serving the pieces it holds to its peers: `GET /v1/packages/SHA256` with a byte range,
 * `authorization: NoopsTicket <ticket>`. The ticket (tickets.ts) is checked offline against the
 * server key this agent pinned, or, when the asker sends a keyed ticket (`noops-peer-ticket`)
 * made for this agent, with this agent's own peer key; the connection must come from an address
 * the ticket names; a range within one piece is served only when that piece is held and checked. At
 * most MAX_SERVING at once: more is 503, and the asker goes elsewhere.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SigningKey } from '../release/index.js';
import { checkKeyedTicket, checkTicket, KEYED_TICKET_HEADER, refusedFrom, TICKET_SCHEME, type TicketFields } from './tickets.js';
import { MAX_UPLOADS_PER_PEER } from './tracker.js';

/**
 * Ranges served at once: the tracker assigns at most MAX_UPLOADS_PER_PEER; two more let a new
 * assignment start while the last bytes of an old one are still on their way.
 */
export const MAX_SERVING = MAX_UPLOADS_PER_PEER + 2;
/** The largest range served in one answer: a piece is at most this (64 pieces of a 1 GiB package is 16 MiB). */
export const MAX_RANGE_BYTES = 64 * 1024 * 1024;
/**
 * A request's headers must be in within this: the port is open to the network, and a client
 * that trickles its headers (slow loris) would otherwise hold a connection for Node's 60 s.
 * A peer's request is one small GET, sent at once.
 */
export const REQUEST_HEADERS_MS = 10_000;
/**
 * An answer still not taken by its asker after this long is cut off, and its slot freed. The
 * asker itself gives up after PEER_TIMEOUT_MS (30 s, peer-fetch.ts); a slow reader holds a slot
 * (and the range in memory) no longer than that.
 */
export const SERVE_DEADLINE_MS = 30_000;
/**
 * Connections open at once at most: peers keep one or two each, a few dozen fetch from one peer
 * at a time; beyond this, new connections are closed at once, so that a flood of idle sockets
 * cannot take every file descriptor of the agent (which it needs for its server and its processes).
 */
export const MAX_PEER_CONNECTIONS = 512;
/**
 * Tickets whose signature checked out, kept to skip the check when they come again (an asker
 * sends the same ticket for every piece until the tracker gives it a new one, each half minute):
 * the signature check was a tenth of serving a piece. Expiry and package are checked every time.
 */
export const TICKETS_CHECKED_KEPT = 4096;
/**
 * A refused request is logged at most once in this long, with the count of those refused since
 * the last line: the port is open to the network, and junk tickets must not flood the agent's log.
 */
export const REFUSED_LOG_EVERY_MS = 10_000;
/** A refusal's line is cut at this many characters (before the count). */
const MAX_REFUSED_LINE = 300;

/** What a package offered to peers holds. */
export interface PieceSource {
  size: number;
  pieceSize: number;
  /** whether piece `i` is held and checked (a complete package: always) */
  has(i: number): boolean;
  readAt(offset: number, length: number): Promise<Buffer>;
  /**
   * Called with what `readAt` answered once the answer's write is done with it (handed to the
   * kernel whole, or given up with its connection): a source that reads into reused buffers takes
   * it back. Not called for an answer that failed before it was written.
   */
  release?(data: Buffer): void;
}

export interface PeerServerOptions {
  /** the server key the agent pinned: tickets are checked against it */
  key(): SigningKey | undefined;
  /**
   * this agent's peer key for the server key it pinned (tickets.ts `peerKeyOf` of its token and that
   * key's id): keyed tickets are checked with it; undefined: none is
   */
  peerKey?(serverKeyId: string): Buffer | undefined;
  /** a package held but not offered (one in the agent's cache), or undefined */
  fallback?(sha256: string): Promise<PieceSource | undefined>;
  log(line: string): void;
  now?(): number;
  /** tests: shorter deadlines than REQUEST_HEADERS_MS and SERVE_DEADLINE_MS, and window than REFUSED_LOG_EVERY_MS */
  headersMs?: number;
  serveDeadlineMs?: number;
  refusedLogEveryMs?: number;
}

/** What a peer server did, for tests and benchmarks. */
export interface ServedCounts {
  ranges: number;
  bytes: number;
  refused: number;
  busy: number;
  /** signed tickets checked anew (not those remembered) */
  signatureChecks: number;
  /** ranges served on a keyed ticket */
  keyed: number;
}

export class PeerServer {
  private readonly sources = new Map<string, PieceSource>();
  private server: Server | undefined;
  private serving = 0;
  /** tickets that checked out, by the public key that checked them */
  private readonly checked = new Map<string, { key: string; fields: TicketFields }>();
  readonly counts: ServedCounts = { ranges: 0, bytes: 0, refused: 0, busy: 0, signatureChecks: 0, keyed: 0 };
  /** when a refusal was last logged (ms), and how many were refused since without a line */
  private refusedLoggedAt = Number.NEGATIVE_INFINITY;
  private refusedUnlogged = 0;
  /** says the refusals counted since the last line when its window ends (`sayRefusedTail`), with the last one's reason */
  private refusedTail: NodeJS.Timeout | undefined;
  private refusedLast: string | undefined;

  constructor(private readonly opts: PeerServerOptions) {}

  /** Offers a package to peers; the function returned withdraws it. */
  offer(sha256: string, source: PieceSource): () => void {
    this.sources.set(sha256, source);
    return () => {
      if (this.sources.get(sha256) === source) this.sources.delete(sha256);
    };
  }

  /** Listens on `host:port` (port 0: a free one); answers the port. */
  async listen(host: string, port: number): Promise<number> {
    const headersMs = this.opts.headersMs ?? REQUEST_HEADERS_MS;
    const server = createServer(
      // Node checks these deadlines every connectionsCheckingInterval: a quarter of the shortest
      { headersTimeout: headersMs, requestTimeout: headersMs, connectionsCheckingInterval: Math.max(50, headersMs / 4) },
      (req, res) => {
        this.handle(req, res).catch(() => res.destroy());
      },
    );
    server.keepAliveTimeout = 30_000;
    server.maxConnections = MAX_PEER_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.sayRefusedTail(); // what was counted is said, not dropped (and its timer cleared: there is one only while something is counted)
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Answers one request (exported for servers that mount it elsewhere). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const answer = (status: number, message: string): void => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${message}\n`);
    };
    const m = /^\/v1\/packages\/([0-9a-f]{64})$/.exec(req.url ?? '');
    if (req.method !== 'GET' || !m) return answer(404, 'not found');
    const sha256 = m[1]!;
    const auth = req.headers.authorization ?? '';
    const ticket = auth.startsWith(`${TICKET_SCHEME} `) ? auth.slice(TICKET_SCHEME.length + 1) : undefined;
    // A keyed ticket made for this agent is checked first (a MAC, not a signature); one that does
    // not check out leaves the signed ticket beside it to decide (the asker sends both: it does not
    // know which a peer reads). Only for a package offered now: what this agent keeps in its cache
    // (`fallback`) goes only on the server's signature.
    const keyed = this.sources.has(sha256) ? this.checkKeyed(req.headers[KEYED_TICKET_HEADER], sha256) : undefined;
    if (ticket === undefined && keyed === undefined) {
      this.counts.refused++;
      return answer(401, 'a ticket from the tracker is needed');
    }
    const byKeyed = keyed !== undefined && (!('refused' in keyed) || ticket === undefined);
    const t = byKeyed ? keyed : this.check(ticket!, sha256);
    // a ticket is good only from its holder's addresses: one seen by a peer or on the wire is no use to them
    const refused = 'refused' in t ? t.refused : refusedFrom(t, req.socket.remoteAddress);
    if (refused !== undefined) {
      this.counts.refused++;
      this.logRefused(`refused a peer's request for package ${sha256.slice(0, 12)}: ${refused}`);
      return answer(403, refused);
    }
    const source = this.sources.get(sha256) ?? (await this.opts.fallback?.(sha256));
    if (!source) return answer(404, 'this agent does not hold that package');
    const range = parseRange(req.headers.range, source.size);
    if (!range) return answer(416, 'one byte range within the package is needed');
    const first = Math.floor(range.start / source.pieceSize);
    const last = Math.floor((range.end - 1) / source.pieceSize);
    // what one answer holds in memory is one piece at most (askers fetch piece by piece)
    if (last !== first) return answer(416, 'one piece at a time: the range crosses a piece boundary');
    for (let i = first; i <= last; i++) if (!source.has(i)) return answer(416, `this agent does not hold piece ${i} yet`);
    if (this.serving >= MAX_SERVING) {
      this.counts.busy++;
      return answer(503, 'serving too many pieces now; ask the tracker for another peer');
    }
    // The slot is held until the asker has taken the whole answer (or it is cut off): a slow
    // reader cannot make this agent hold more than MAX_SERVING ranges in memory.
    this.serving++;
    let freed = false;
    const free = (): void => {
      if (freed) return;
      freed = true;
      this.serving--;
      clearTimeout(deadline);
    };
    const deadline = setTimeout(() => res.destroy(), this.opts.serveDeadlineMs ?? SERVE_DEADLINE_MS);
    res.once('close', free);
    try {
      const data = await source.readAt(range.start, range.end - range.start);
      if (data.length !== range.end - range.start) return answer(404, 'the package is no longer here');
      res.writeHead(206, {
        'content-type': 'application/octet-stream',
        'content-length': String(data.length),
        'content-range': `bytes ${range.start}-${range.end - 1}/${source.size}`,
      });
      // 'finish' comes from the write's callback: the socket no longer reads the buffer (every byte
      // copied into the kernel, or the write given up with a connection gone), so the source may reuse it
      if (source.release) res.once('finish', () => source.release!(data));
      res.end(data);
      this.counts.ranges++;
      if (byKeyed) this.counts.keyed++;
      this.counts.bytes += data.length;
    } catch (err) {
      answer(404, `the package is no longer here (${(err as Error).message})`);
    }
  }

  /**
   * A keyed ticket's fields (or why it is refused); undefined when none was sent, or this agent has
   * no peer key or pinned no server key (it then serves nothing: no signed ticket checks out either).
   */
  private checkKeyed(header: string | string[] | undefined, sha256: string): ReturnType<typeof checkKeyedTicket> | undefined {
    if (typeof header !== 'string') return undefined;
    const pinned = this.opts.key();
    const key = pinned === undefined ? undefined : this.opts.peerKey?.(pinned.keyId);
    if (key === undefined) return undefined;
    return checkKeyedTicket(key, header, sha256, this.opts.now?.() ?? Date.now());
  }

  /**
   * Logs a refusal unless one was logged within REFUSED_LOG_EVERY_MS: then it is counted, and told
   * with the next line, or when the window ends if none came by then (the end of a burst: the last
   * one's line, with the count of the others).
   */
  private logRefused(line: string): void {
    const now = this.opts.now?.() ?? Date.now();
    const every = this.opts.refusedLogEveryMs ?? REFUSED_LOG_EVERY_MS;
    if (now - this.refusedLoggedAt < every) {
      this.refusedUnlogged++;
      this.refusedLast = line;
      this.refusedTail ??= setTimeout(() => this.sayRefusedTail(), every - (now - this.refusedLoggedAt)).unref();
      return;
    }
    this.sayRefused(line, this.refusedUnlogged, now);
  }

  /** The refusals counted since the last line, said at the end of its window (or at close) when no refusal came to say them. */
  private sayRefusedTail(): void {
    if (this.refusedUnlogged === 0 || this.refusedLast === undefined) return;
    this.sayRefused(this.refusedLast, this.refusedUnlogged - 1, this.opts.now?.() ?? Date.now());
  }

  /** One line: a refusal's reason, and how many others it stands for. */
  private sayRefused(line: string, others: number, now: number): void {
    clearTimeout(this.refusedTail);
    this.refusedTail = undefined;
    this.refusedLoggedAt = now;
    this.refusedUnlogged = 0;
    this.refusedLast = undefined;
    const since = others > 0 ? ` (${others} more refused since the last line)` : '';
    // the reason may quote what the asker sent (a key id, a package): one line, bounded
    this.opts.log(`${line.replace(/\p{Cc}/gu, '?').slice(0, MAX_REFUSED_LINE)}${since}`);
  }

  /** `checkTicket`, with the tickets that checked out before (by the same pinned key) remembered. */
  private check(ticket: string, sha256: string): ReturnType<typeof checkTicket> {
    const key = this.opts.key();
    const now = this.opts.now?.() ?? Date.now();
    const known = key === undefined ? undefined : this.checked.get(ticket);
    if (known && known.key === key?.publicKey) {
      if (known.fields.sha256 !== sha256) return { refused: `the ticket is for package ${known.fields.sha256}, not ${sha256}` };
      if (known.fields.expires < now) return { refused: 'the ticket has expired' };
      return known.fields;
    }
    if (key !== undefined) this.counts.signatureChecks++;
    const t = checkTicket(key, ticket, sha256, now);
    if (!('refused' in t) && key !== undefined) {
      if (this.checked.size >= TICKETS_CHECKED_KEPT) this.checked.clear();
      this.checked.set(ticket, { key: key.publicKey, fields: t });
    }
    return t;
  }

  /** Ranges being served now (read, or on their way to their askers). */
  get servingNow(): number {
    return this.serving;
  }
}

/**
 * One `bytes=A-B` range (B inclusive, as HTTP has it) within `size`, as [start, end) with end
 * exclusive; undefined for anything else (several ranges, suffixes, past the end, too large).
 *
 * @example parseRange('bytes=0-1023', 4096) // { start: 0, end: 1024 }
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  const m = /^bytes=(\d{1,15})-(\d{1,15})$/.exec(header ?? '');
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]) + 1;
  if (start >= end || end > size || end - start > MAX_RANGE_BYTES) return undefined;
  return { start, end };
}
