/**
 * Limits on what one agent may send: the size of a report and how many it sends a second.
 * Both are checked before the body is read (a refused report costs no memory), in the report
 * route's preParsing hook.
 */
import { Transform } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NoopsError } from '../errors/index.js';

/**
 * The largest report body. A report carries every process of the host (about 300 bytes each),
 * at most 200 events (the agent's EVENTS_PER_REPORT, 64 KiB of text each at worst but a few
 * hundred bytes in practice) and metric points: a host with 1,000 processes reports about 400 KB
 * of processes. Points are capped per report by the agent (POINTS_PER_REPORT, 2,000, and about
 * POINT_BYTES_PER_REPORT, 256 KiB: 150 to 215 bytes a point, measured), the rest following in
 * the next report at once; a busy host's 60 s batch (1,780 points: 280 of the host, 5 per process
 * of 200 processes, 500 pushed) is two reports (1,233 points, 241 KB, then the rest), and the
 * 1,000-process host's report stays near 650 KB. Twenty 3.9 MB reports took the server from 184 to 356 MB;
 * 1 MiB keeps 1,000 agents' last reports within a sane share of memory even if every one is near
 * the limit. An agent whose report is refused as too large halves its points' share and retries.
 */
export const REPORT_MAX_BYTES = 1024 * 1024;

/**
 * Reports per second one agent may send, sustained. The agent reports a change at most every
 * 100 ms (REPORT_DEBOUNCE_MS), a health transition at once but 5 a second at most
 * (URGENT_PER_SECOND, src/agent/report-pacer.ts), and once a heartbeat: about 15 a second at
 * worst; the rest leaves room for retries and clock jitter and still stops a loop or a flood.
 */
export const REPORTS_PER_SECOND = 20;

/** Reports one agent may send at once before the rate applies: a reconnect's catch-up, not a flood. */
export const REPORT_BURST = 40;

/**
 * An oversized report up to this size is read and discarded so that the agent reads the 413
 * (an agent's report is near the limit, not far past it); past it the connection is cut.
 */
export const REPORT_DRAIN_MAX_BYTES = 16 * 1024 * 1024;

/** Hosts whose buckets are kept; past this the idlest are forgotten (a forgotten host starts full). */
export const RATE_BUCKETS_MAX = 100_000;

/**
 * A token bucket per key (an agent's host name): `burst` tokens, refilled at `perSecond`.
 * Pure apart from the clock it is given.
 *
 * @example
 *   const rate = new RateLimiter(20, 40);
 *   rate.take('host1', Date.now()) // 0: allowed; > 0: refused, retry after that many ms
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    readonly maxKeys = RATE_BUCKETS_MAX,
  ) {}

  /** Takes one token for `key`: answers 0 when allowed, else the milliseconds until one is free. */
  take(key: string, now: number): number {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= this.maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
      b = { tokens: this.burst, at: now };
    }
    this.#buckets.delete(key); // re-inserted: the Map's order is least recently used first
    this.#buckets.set(key, b);
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / this.perSecond) * 1000);
  }
}

function tooLarge(bytes: number | string): NoopsError {
  return new NoopsError(
    'NOOPS_E_REPORT_TOO_LARGE',
    `the report is ${bytes} bytes; the server takes at most ${REPORT_MAX_BYTES} (REPORT_MAX_BYTES)`,
  );
}

/**
 * The report route's preParsing hook: refuses a host over its rate (429 with Retry-After) and a
 * body over REPORT_MAX_BYTES (413), both before reading the body. A body without a length
 * (chunked) is counted as it streams and cut off at the limit.
 */
export function reportLimits(rate: RateLimiter = new RateLimiter(REPORTS_PER_SECOND, REPORT_BURST)) {
  return async (req: FastifyRequest, reply: FastifyReply, payload: NodeJS.ReadableStream): Promise<NodeJS.ReadableStream> => {
    const waitMs = rate.take(req.principal.name, Date.now());
    if (waitMs > 0) {
      reply.header('retry-after', String(Math.ceil(waitMs / 1000)));
      throw new NoopsError('NOOPS_E_RATE_LIMITED', `more than ${REPORTS_PER_SECOND} reports a second from ${req.principal.name}`);
    }
    const length = Number(req.headers['content-length']);
    if (Number.isFinite(length) && length > REPORT_MAX_BYTES) {
      // The client is still sending. Answering at once and closing makes it fail to write
      // ("fetch failed") instead of reading the 413; so a body of a sane size is read and
      // thrown away (no memory kept), and only a huge one cuts the connection.
      if (length <= REPORT_DRAIN_MAX_BYTES)
        for await (const _ of payload) {
          /* discarded */
        }
      else reply.header('connection', 'close');
      throw tooLarge(length);
    }
    // A body of a stated length within the limit is read as is: Node's parser delivers no more
    // than the length says (a stream per report was 1.5% of the server's CPU at 10,000 agents).
    if (Number.isFinite(length)) return payload;
    let seen = 0;
    const counted = payload.pipe(
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          seen += chunk.length;
          if (seen > REPORT_MAX_BYTES) done(tooLarge(`more than ${REPORT_MAX_BYTES}`));
          else done(null, chunk);
        },
      }),
    ) as Transform & { receivedEncodedLength?: number };
    payload.on('error', (err) => counted.destroy(err));
    // fastify compares this with the content-length, as it would the original stream's
    Object.defineProperty(counted, 'receivedEncodedLength', { get: () => seen });
    return counted;
  };
}
