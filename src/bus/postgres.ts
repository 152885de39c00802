/**
 * The change bus on PostgreSQL (several servers on one database): one dedicated connection
 * LISTENs on one channel, `noops_changes`; publishing sends `pg_notify` on a small pool of its
 * own, after the write it announces has committed, so no server hears of a change before it can
 * read it. Every message carries the id of the bus that sent it: a server's own message comes
 * back to it and is dropped (its subscribers were told directly when it was published).
 *
 *   publish(ch, p) --> subscribers here, at once
 *                  --> pg_notify('noops_changes', 'ORIGIN CH P')  (batched per tick)
 *   LISTEN noops_changes --> not ours? --> subscribers of CH
 *   connection lost --> reconnect (backoff) --> LISTEN --> every subscriber's resync()
 *
 * @example
 *   const bus = await openPostgresBus('postgres://noops:pw@db:5432/noops');
 *   bus.subscribe(CHANNELS.desired, { change: (host) => hub.wake(host), resync: () => hub.wakeAll() });
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { NoopsError } from '../errors/index.js';
import { type Channel, type ChangeBus, MAX_PAYLOAD_BYTES, type Subscriber, Subscribers } from './index.js';

/** The one PostgreSQL channel every bus channel travels on (a NOTIFY reaches one database only). */
export const PG_CHANNEL = 'noops_changes';

/** First wait before reconnecting a lost LISTEN connection: a restarting database is back soon. */
export const RECONNECT_FIRST_MS = 100;
/** Longest wait between reconnects: a long outage costs one attempt every 5 s, not a flood. */
export const RECONNECT_MAX_MS = 5_000;
/**
 * How often the LISTEN connection is checked with `select 1`: a connection cut without a FIN (a
 * network partition) is noticed within this plus the query's own timeout, not TCP's minutes.
 */
export const LISTEN_CHECK_MS = 5_000;
/** Connections for publishing: one batched query per tick keeps up with a deploy to 10,000 hosts. */
export const PUBLISH_POOL_MAX = 2;
/** Messages sent in one `pg_notify` query at most. */
const PUBLISH_BATCH_MAX = 1_000;
/** How long a publish is retried (a pooled connection may have died): then it fails. */
export const PUBLISH_DEADLINE_MS = 3_000;

interface Pending {
  text: string;
  done: () => void;
  failed: (err: Error) => void;
}

/** The PostgreSQL bus. Make it with `openPostgresBus`. */
export class PostgresChangeBus implements ChangeBus {
  /** this bus's id, in every message it sends (and in its connection's application_name) */
  readonly origin = randomBytes(6).toString('hex');
  /** how many times the LISTEN connection was made again (tests and logs read it) */
  reconnects = 0;
  private readonly subscribers: Subscribers;
  private readonly publisher: pg.Pool;
  private listener: pg.Client | undefined;
  private reconnecting: Promise<void> | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly warn: (line: string) => void = (line) => process.emitWarning(line),
  ) {
    this.subscribers = new Subscribers(warn);
    this.publisher = new pg.Pool({ connectionString: url, max: PUBLISH_POOL_MAX, application_name: 'noops-bus-publish' });
    // a pooled idle connection that breaks is dropped by the pool; the next publish opens another
    this.publisher.on('error', (err) => warn(`bus: a publishing connection broke: ${err.message}`));
  }

  /** The application_name of the LISTEN connection (tests find it in pg_stat_activity). */
  get listenerName(): string {
    return `noops-bus-${this.origin}`;
  }

  /** Makes the LISTEN connection; throws NOOPS_E_STORE_OPEN when the database cannot be reached. */
  async open(): Promise<void> {
    try {
      await this.connect();
    } catch (err) {
      await this.publisher.end();
      throw new NoopsError('NOOPS_E_STORE_OPEN', `could not LISTEN for changes on the store: ${(err as Error).message}`, { cause: err });
    }
    this.checkTimer = setInterval(() => this.check(), LISTEN_CHECK_MS);
    this.checkTimer.unref();
  }

  publish(channel: Channel, payload: string): Promise<void> {
    if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES)
      return Promise.reject(new NoopsError('NOOPS_E_INTERNAL', `bus: a payload on "${channel}" is over ${MAX_PAYLOAD_BYTES} bytes`));
    this.subscribers.deliver(channel, payload);
    if (this.closed) return Promise.resolve();
    return new Promise((done, failed) => {
      this.pending.push({ text: `${this.origin} ${channel} ${payload}`, done, failed });
      this.flushing ??= new Promise<void>((r) => setImmediate(r)).then(() => this.flush());
    });
  }

  subscribe(channel: Channel, subscriber: Subscriber): () => void {
    return this.subscribers.add(channel, subscriber);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.checkTimer);
    await this.flushing;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end();
    await this.reconnecting;
    this.subscribers.clear();
    await this.publisher.end();
  }

  /** Sends what was published since the last flush, one query per PUBLISH_BATCH_MAX messages. */
  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, PUBLISH_BATCH_MAX);
      try {
        await this.send(batch.map((p) => p.text));
        for (const p of batch) p.done();
      } catch (err) {
        for (const p of batch) p.failed(err as Error);
      }
    }
    this.flushing = undefined;
  }

  private async send(texts: string[]): Promise<void> {
    const deadline = Date.now() + PUBLISH_DEADLINE_MS;
    for (let wait = RECONNECT_FIRST_MS; ; wait = Math.min(wait * 2, RECONNECT_MAX_MS)) {
      try {
        await this.publisher.query('select pg_notify($1, t) from unnest($2::text[]) as t', [PG_CHANNEL, texts]);
        return;
      } catch (err) {
        if (Date.now() + wait > deadline)
          throw new NoopsError('NOOPS_E_STORE_OPEN', `bus: could not tell the other servers of a change: ${(err as Error).message}`, {
            cause: err,
          });
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: this.listenerName, keepAlive: true });
    client.on('notification', (msg) => this.receive(msg.payload ?? ''));
    client.on('error', (err) => this.lost(client, err.message));
    client.on('end', () => this.lost(client, 'the connection ended'));
    try {
      await client.connect();
      await client.query(`listen ${PG_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => {}); // a connection that never opened: its own error is the one thrown
      throw err;
    }
    this.listener = client;
  }

  private receive(text: string): void {
    const first = text.indexOf(' ');
    const second = text.indexOf(' ', first + 1);
    if (first < 0 || second < 0) {
      this.warn(`bus: a message on ${PG_CHANNEL} is not "ORIGIN CHANNEL PAYLOAD"`);
      return;
    }
    if (text.slice(0, first) === this.origin) return; // ours: told here when it was published
    this.subscribers.deliver(text.slice(first + 1, second), text.slice(second + 1));
  }

  /** The LISTEN connection is gone: make it again, then tell every subscriber to resynchronise. */
  private lost(client: pg.Client, why: string): void {
    if (this.closed || client !== this.listener) return;
    this.listener = undefined;
    this.warn(`bus: lost the LISTEN connection (${why}); reconnecting`);
    client.end().catch(() => {}); // it is broken already: ending it only frees the socket
    this.reconnecting = this.reconnect().finally(() => {
      this.reconnecting = undefined;
    });
  }

  private async reconnect(): Promise<void> {
    for (let wait = RECONNECT_FIRST_MS; !this.closed; wait = Math.min(wait * 2, RECONNECT_MAX_MS)) {
      await new Promise((r) => setTimeout(r, wait));
      if (this.closed) return;
      try {
        await this.connect();
      } catch (err) {
        this.warn(`bus: could not LISTEN again (${(err as Error).message}); next try in ${Math.min(wait * 2, RECONNECT_MAX_MS)} ms`);
        continue;
      }
      if (this.closed) {
        await this.listener?.end();
        return;
      }
      this.reconnects++;
      this.subscribers.resyncAll(); // what was sent while no one listened is lost: read the store again
      return;
    }
  }

  /** Checks the LISTEN connection; a failed check is a lost connection. */
  private check(): void {
    const client = this.listener;
    if (client === undefined) return;
    const timeout = setTimeout(() => this.lost(client, `no answer to a check within ${LISTEN_CHECK_MS} ms`), LISTEN_CHECK_MS);
    timeout.unref();
    client
      .query('select 1')
      .then(() => clearTimeout(timeout))
      .catch((err: Error) => {
        clearTimeout(timeout);
        this.lost(client, err.message);
      });
  }
}

/**
 * Opens the PostgreSQL bus on the store's database: LISTENs before it answers, so a change
 * published after it resolves is received.
 */
export async function openPostgresBus(url: string, warn?: (line: string) => void): Promise<PostgresChangeBus> {
  const bus = new PostgresChangeBus(url, warn);
  await bus.open();
  return bus;
}
