/**
 * The command queue of several servers on one PostgreSQL (issue 14): commands and their output
 * in the store (store/agent-commands.ts), wake-ups on the change bus. The rules and limits are
 * those of the in-memory queue (agent-commands.ts); only where they live differs.
 *
 *   server A: create ──insert──> agent_commands ──publish commands "host:web-1"──> every server
 *   server B: the agent's parked poll wakes ──UPDATE queued->running RETURNING──> the agent
 *   server B: agent posts output ──UPDATE + insert chunk──> publish "id:42" ──> every server
 *   server A: the CLI's parked read wakes ──select chunks after its offset──> the CLI
 *
 * Timers: the server that queued a command sweeps when PICKUP_MS has passed (so expiry is on
 * time), and every server sweeps every SWEEP_MS (so a command whose server died still expires,
 * and ended ones are forgotten after RETAIN_MS). Each sweep is conditional UPDATEs and DELETEs:
 * two servers sweeping at once change each command once, then one SELECT of the hosts with a
 * command queued (what a lost announcement hid from KNOWN_EMPTY_MS's memory). A take never hands
 * out a command older than PICKUP_MS, swept or not.
 */
import { CHANNELS, type ChangeBus, Waiters } from '../bus/index.js';
import { NoopsError } from '../errors/index.js';
import type { AgentCommand, CommandAction, CommandUpdate, CommandView } from '../api/index.js';
import type { AgentCommandChunk, AgentCommandRow, Store } from '../store/index.js';
import {
  COMMANDS_QUEUED_PER_HOST,
  type CommandQueue,
  commandNotFound,
  ENDED,
  expiredError,
  IDLE_MS,
  MAX_OUTPUT,
  type NewCommand,
  PICKUP_MS,
  RETAIN_MS,
} from './agent-commands.js';

/**
 * 5 s between two sweeps of one server: a command whose server died expires at most this late
 * (PICKUP_MS is 30 s), at the cost of three small statements per server every 5 s.
 */
export const SWEEP_MS = 5_000;
/**
 * 5 s: a reader's read is written at most this often (a `logs -f` reader polls after every
 * post). IDLE_MS (60 s) is what it is compared with, so 5 s stale is far inside it.
 */
export const READ_MARK_MS = 5_000;
/**
 * 1 hour without a post from the agent or a read by a person: a running command is an orphan
 * (its agent died mid-command, its reader left) and is cancelled, then forgotten RETAIN_MS
 * later. Memory forgot such commands with the server; rows would stay for ever.
 */
export const ORPHAN_MS = 60 * 60_000;

/**
 * 20 s: a host a read found no command queued for is answered "none" here for this long without
 * reading again. Every desired-state poll of an agent that takes commands checked the store when
 * it parked and took from it when answered: two statements a poll, 20,000 round trips in a
 * deploy's fan-out to 10,000 hosts on PostgreSQL. A command queued on any server announces its
 * host on the bus, which forgets the host here before it wakes its polls. An announcement lost
 * (a server that died between its commit and its notify) is caught by every server's sweep
 * (SWEEP_MS): one statement names the hosts with a command queued, and their polls here wake.
 */
export const KNOWN_EMPTY_MS = 20_000;

/** The payload on the `commands` channel: a host's queue changed, or a command did. */
const hostPayload = (host: string): string => `host:${host}`;
const idPayload = (id: number): string => `id:${id}`;

/**
 * Agent commands in the store, shared by every server on the database.
 *
 * @example
 *   const queue = new StoredCommandQueue(store, bus);
 *   const cmd = await queue.create({ host: 'web-1', action: 'restart', tag, process: null, lines: 0, follow: false, initiator: 'alice' });
 *   await queue.takeQueued('web-1');           // on any server: what the agent's long poll hands it
 *   await queue.update('web-1', cmd.id, { done: true });
 *   (await queue.read(cmd.id, 0, 0)).status;   // 'done', on any server
 */
export class StoredCommandQueue implements CommandQueue {
  /** agents' polls parked here, by host */
  readonly #agents = new Waiters();
  /** readers' polls parked here, by command id */
  readonly #readers = new Waiters();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #unsubscribe: () => void;
  readonly #now: () => number;
  #closed = false;
  /** hosts a read found no command queued for, and when that read began (KNOWN_EMPTY_MS) */
  readonly #none = new Map<string, number>();
  /** announcements heard, counted: a read keeps its "none" only if its host was not announced since it began */
  #heard = 0;
  readonly #heardFor = new Map<string, number>();
  #heardAll = 0;
  /** reads of the queue in flight (the marks above matter only to them) */
  #reads = 0;

  /**
   * @param store where commands live (PostgreSQL for several servers; SQLite works too, for tests)
   * @param bus tells every server's queue when a command was queued or changed
   * @param opts.now the clock (tests move it past IDLE_MS); opts.sweepMs the sweep period
   */
  constructor(
    private readonly store: Store,
    private readonly bus: ChangeBus,
    opts: { now?: () => number; sweepMs?: number } = {},
  ) {
    this.#now = opts.now ?? Date.now;
    this.#unsubscribe = bus.subscribe(CHANNELS.commands, {
      change: (payload) => {
        if (payload.startsWith('host:')) {
          const host = payload.slice('host:'.length);
          this.#forget(host); // before its polls wake and take
          this.#agents.wake(host);
        } else if (payload.startsWith('id:')) this.#readers.wake(payload.slice('id:'.length));
      },
      // changes may have been missed: every parked poll reads the store again
      resync: () => {
        this.#none.clear();
        this.#heardAll = ++this.#heard;
        this.#agents.wakeAll();
        this.#readers.wakeAll();
      },
    });
    this.#sweeper = setInterval(() => void this.sweep(), opts.sweepMs ?? SWEEP_MS);
    this.#sweeper.unref();
  }

  async create(req: NewCommand): Promise<CommandView> {
    const now = this.#now();
    const row = await this.store.createAgentCommand({ ...req, createdAt: iso(now) }, COMMANDS_QUEUED_PER_HOST, iso(now - PICKUP_MS));
    if (row === undefined) {
      throw new NoopsError('NOOPS_E_COMMANDS_FULL', `${COMMANDS_QUEUED_PER_HOST} commands already wait for the agent of ${req.host}`);
    }
    // expire it on time if no agent takes it (10 ms past PICKUP_MS: a timer may fire a little early)
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.sweep();
    }, PICKUP_MS + 10);
    timer.unref();
    this.#timers.add(timer);
    this.#forget(req.host); // here at once, whatever the bus does
    this.#announce(hostPayload(req.host));
    return view(row, [], 0);
  }

  async take(host: string, waitMs: number, signal?: AbortSignal): Promise<AgentCommand[]> {
    await this.waitQueued(host, waitMs, signal);
    if (signal?.aborted) return [];
    return this.takeQueued(host);
  }

  async waitQueued(host: string, waitMs: number, signal?: AbortSignal): Promise<void> {
    // parked before the store is read: a command queued between the two still wakes it
    const found = new AbortController();
    const woken = this.#agents.wait(host, waitMs, signal, found.signal);
    try {
      if (await this.hasQueued(host)) found.abort();
    } catch (err) {
      found.abort();
      throw err;
    }
    await woken;
  }

  parkQueued(host: string, wake: (err?: Error) => void): void {
    // parked before the store is read: a command queued between the two still wakes it
    this.#agents.park(host, wake);
    this.hasQueued(host).then(
      (queued) => {
        if (queued) wake();
      },
      (err: Error) => wake(err),
    );
  }

  unparkQueued(host: string, wake: (err?: Error) => void): void {
    this.#agents.unpark(host, wake);
  }

  async hasQueued(host: string): Promise<boolean> {
    const at = this.#now();
    if (this.#knownNone(host, at)) return false;
    const mark = this.#readBegins();
    try {
      const queued = await this.store.hasQueuedAgentCommand(host, iso(at - PICKUP_MS));
      if (queued)
        this.#none.delete(host); // another read's "none", from before this one saw it
      else this.#keepNone(host, at, mark);
      return queued;
    } finally {
      this.#readEnds();
    }
  }

  async takeQueued(host: string): Promise<AgentCommand[]> {
    const now = this.#now();
    if (this.#knownNone(host, now)) return [];
    const mark = this.#readBegins();
    let rows: AgentCommandRow[];
    try {
      rows = await this.store.takeAgentCommands(host, iso(now - PICKUP_MS), iso(now));
      // a take leaves nothing queued: what it took runs, and what was queued since was announced
      this.#keepNone(host, now, mark);
    } finally {
      this.#readEnds();
    }
    for (const row of rows) this.#announce(idPayload(row.id)); // its readers see it running
    return rows.map((r) => ({
      id: r.id,
      action: r.action as CommandAction,
      tag: r.tag,
      process: r.process,
      lines: r.lines,
      follow: r.follow,
    }));
  }

  async update(host: string, id: number, u: CommandUpdate): Promise<{ cancelled: boolean }> {
    const now = this.#now();
    const outcome = await this.store.postAgentCommand(host, id, {
      output: u.output ?? '',
      result: u.result,
      end: u.error ? { status: 'failed', error: u.error } : u.done ? { status: 'done', error: null } : undefined,
      at: iso(now),
      idleBefore: iso(now - IDLE_MS),
      maxOutput: MAX_OUTPUT,
    });
    if (outcome === 'missing') throw new NoopsError('NOOPS_E_NOT_FOUND', `no command #${id} for host ${host}`);
    if (outcome === 'ended') return { cancelled: true };
    this.#announce(idPayload(id));
    return { cancelled: outcome === 'idle' };
  }

  async read(id: number, offset: number, waitMs: number, signal?: AbortSignal): Promise<CommandView> {
    // parked before the store is read: output posted between the two still wakes it
    const news = new AbortController();
    const woken = this.#readers.wait(String(id), waitMs, signal, news.signal);
    try {
      const first = await this.#read(id, offset);
      if (ENDED.includes(first.status) || first.offset > offset || waitMs <= 0) return first;
      await woken;
      return await this.#read(id, offset);
    } finally {
      news.abort();
    }
  }

  async cancel(id: number): Promise<CommandView> {
    if (await this.store.cancelAgentCommand(id, iso(this.#now()))) this.#announce(idPayload(id));
    return this.peek(id);
  }

  async peek(id: number): Promise<CommandView> {
    const found = await this.store.readAgentCommand(id);
    if (found === undefined) throw commandNotFound(id);
    return view(found.command, [], found.command.outputEnd);
  }

  /** How many reads of command `id` are parked on this server now (tests wait for it). */
  parkedReaders(id: number): number {
    return this.#readers.count(String(id));
  }

  /**
   * Expires commands no agent took, cancels orphans, forgets commands ended RETAIN_MS ago, and
   * tells the readers of those it ended. Any server, any time: idempotent.
   */
  async sweep(): Promise<void> {
    const now = this.#now();
    for (const host of this.#none.keys()) this.#knownNone(host, now); // drops what is too old: hosts gone keep nothing here
    try {
      const ended = await this.store.sweepAgentCommands({
        at: iso(now),
        pickupBefore: iso(now - PICKUP_MS),
        retainBefore: iso(now - RETAIN_MS),
        orphanBefore: iso(now - ORPHAN_MS),
      });
      for (const c of ended) this.#announce(idPayload(c.id));
      // the net under the marks: a host with a command queued whose announcement this server never
      // heard (its server died between its commit and its notify) is read again, its polls here woken
      for (const host of await this.store.hostsWithQueuedAgentCommands(iso(now - PICKUP_MS))) {
        if (!this.#none.has(host) && this.#agents.count(host) === 0) continue;
        this.#forget(host);
        try {
          this.#agents.wake(host);
        } catch (err) {
          process.emitWarning(`agent commands: waking a poll of ${host} failed: ${(err as Error).message}`);
        }
      }
    } catch (err) {
      // the next sweep (SWEEP_MS) tries again; a server shutting down closed the store under it
      if (!this.#closed) process.emitWarning(`agent commands: sweep failed: ${(err as Error).message}`);
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#unsubscribe();
    this.#agents.wakeAll();
    this.#readers.wakeAll();
  }

  async #read(id: number, offset: number): Promise<CommandView> {
    const now = this.#now();
    const found = await this.store.readAgentCommand(id, offset, { at: iso(now), olderThan: iso(now - READ_MARK_MS) });
    if (found === undefined) throw commandNotFound(id);
    return view(found.command, found.chunks, offset);
  }

  /** True when a read that began less than KNOWN_EMPTY_MS before `now` found nothing queued for `host`, and nothing was announced since. */
  #knownNone(host: string, now: number): boolean {
    const at = this.#none.get(host);
    if (at === undefined) return false;
    if (now >= at && now - at < KNOWN_EMPTY_MS) return true; // a clock stepped back keeps nothing longer
    this.#none.delete(host);
    return false;
  }

  /** A command may be queued for `host` now: read the store at its next poll. */
  #forget(host: string): void {
    this.#none.delete(host);
    if (this.#reads > 0) this.#heardFor.set(host, ++this.#heard);
  }

  #readBegins(): number {
    this.#reads++;
    return this.#heard;
  }

  #readEnds(): void {
    if (--this.#reads === 0) this.#heardFor.clear();
  }

  /** Keeps what a read that began at `at` (when the count of announcements was `mark`) found: none, unless its host was announced since. */
  #keepNone(host: string, at: number, mark: number): void {
    if (this.#heardAll <= mark && (this.#heardFor.get(host) ?? 0) <= mark) this.#none.set(host, at);
  }

  /** Tells every server (this one at once); published after the write it announces committed. */
  #announce(payload: string): void {
    this.bus.publish(CHANNELS.commands, payload).catch((err: Error) => {
      // the others' polls still end at their timeout, and the sweeps and reads see the store
      process.emitWarning(`agent commands: could not tell the other servers: ${err.message}`);
    });
  }
}

/**
 * A command as the CLI sees it, with its output from `offset` on: the kept chunks (contiguous,
 * oldest deleted) sliced to the last MAX_OUTPUT characters, as the in-memory queue keeps them.
 */
function view(row: AgentCommandRow, chunks: readonly AgentCommandChunk[], offset: number): CommandView {
  const first = chunks[0];
  let output = '';
  if (first !== undefined) {
    const from = Math.max(offset, row.outputEnd - MAX_OUTPUT, first.pos);
    output = chunks
      .map((c) => c.text)
      .join('')
      .slice(from - first.pos);
  }
  return {
    id: row.id,
    host: row.host,
    action: row.action as CommandAction,
    tag: row.tag,
    process: row.process,
    status: row.status,
    initiator: row.initiator,
    createdAt: row.createdAt,
    output,
    offset: row.outputEnd,
    result: row.result,
    error: row.status === 'expired' ? expiredError(row.host) : row.error,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
