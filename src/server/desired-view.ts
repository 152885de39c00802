/**
 * Each host's desired-state answer (`GET /agent/desired`), resolved once and kept in memory, so
 * a long poll is a plain read: the generation (read from the store after each change), the rest
 * from here.
 *
 * Resolving an answer reads the host's desired row, then for each entry the deployment's kind,
 * the runtimes' refs, the root grants, the secrets' values and the release's signature. An entry
 * (a cluster tag at a version, written by one deployment) is the same for every host that has
 * it, so it is resolved and serialized once for all of them: a deploy that wakes 1,000 parked
 * polls reads the host rows, not 1,000 times the rest. The host rows (desired state and
 * adoption) of every answer resolved in one turn of the event loop are read together, in a few
 * statements: waking N polls is then a loop that joins each host's generation and stamp to the
 * shared, serialized entries and writes it out. What is kept per host points at the shared entries
 * (no copy of their JSON), so the memory of a deploy to N hosts does not grow with N times its release.
 *
 *   writer (rollout, adopt) --hub.notify(host)--> forget(host)      next poll resolves the host
 *   grants, secrets, runtimes --changed()--bus: answers--> forgetAll()  (on every server)
 *   another server's write  --its hub.notify, over the bus-->        forget(host) here too
 *   a notification lost     --a poll's time up, or GENERATION_KEEP_MS-->  the store's generation is read
 *
 * Correctness never depends on what is kept for long: an answer older than the store's generation,
 * or older than DESIRED_FRESH_MS, is resolved again; the generation is read from the store again
 * after each wake of its host, and at least every GENERATION_KEEP_MS. Secret values are held in
 * memory only.
 */
// api/types.js, not api/index.js: the index loads the client, which the server does not use
import type {
  DesiredBalancers,
  DesiredInstance,
  HostNetwork,
  ReleaseSignature,
  RuntimeRef,
  ServerStamp,
  SigningKey,
  StagedPackage,
} from '../api/index.js';
import { API_PREFIX } from '../api/index.js';
import type { ReleaseManifest } from '../release/index.js';
import { jobOf, rootAllowed } from '../rollout/index.js';
import type { DeploymentKind, DesiredRow, StagedPackageRow, Store } from '../store/index.js';
import { CHANNELS, type ChangeBus } from '../bus/index.js';
import { settledWithin } from './hub.js';
import { adoptedKey, serverIdentity, stampOf } from './trust.js';

/**
 * How long a resolved answer (and a resolved entry) is served without looking again. Changes on
 * any server are seen at once: their writers call `changed()` or wake the hub, and the change bus
 * brings both to every server; this bounds how long a change whose notification was lost (a
 * root grant, a secret, a runtime, an adoption's stamp) stays unseen here.
 */
export const DESIRED_FRESH_MS = 1_000;

/**
 * How long a host's generation read from the store is answered without reading it again
 * (`DesiredView.generation`: every report's answer and every long poll asks for it, 4,000 times a
 * second with 10,000 agents deploying, and a statement each was about a fifth of a heartbeat's
 * CPU on the server). Every writer of desired state wakes the hub after its commit, on every
 * server, and the wake forgets the host's generation here. A change whose wake was lost (the bus
 * reconnecting forgets them all) is in a report's answer within this time, and answers a parked
 * poll when the poll's own time is up (`longPollMs`, 25 s by default): a poll that waited out
 * reads the store's generation.
 */
export const GENERATION_KEEP_MS = 25_000;

/** Resolved entries kept at most: past it, the stale ones are dropped (all of them if none is). */
export const MAX_RESOLVED_ENTRIES = 10_000;

/**
 * Hosts whose rows are read in one go when many answers are resolved in one turn (a deploy that
 * wakes every parked poll): their answers are written before the next slice is read.
 */
export const READ_SLICE = 500;

/**
 * How long the read of the next slice waits at most for the entries the last slice began to
 * resolve (a new release's: its package's size, on PostgreSQL its rows): their answers go out
 * before the next slice is read, unless the store is slower than this.
 */
export const ENTRY_WAIT_MS = 100;

/** Hosts resolved between two sweeps of the answers too old to be served. */
const SWEEP_EVERY = 1_000;

/** What the view reads to resolve an answer: the store, and the server's other books. */
export interface DesiredViewDeps {
  store: Store;
  /** the key the server signs releases with (every answer names it) */
  signing: SigningKey | undefined;
  /** a deployment's kind (what NOOPS_DEPLOY_KIND tells processes) */
  kindOf(deploymentId: number): Promise<DeploymentKind>;
  /** the refs of the runtimes a manifest names (unknown ones left out) */
  runtimeRefs(manifest: ReleaseManifest): Promise<RuntimeRef[]>;
  /** the secret values an instance at `tag` gets (none: `{}`) */
  secretsFor(tag: string, manifest: ReleaseManifest): Promise<{ secrets?: Record<string, string> }>;
  /** a release's signature (undefined: unsigned) */
  signatureOf(job: string, version: string): Promise<ReleaseSignature | undefined>;
  /** the scopes of every root grant */
  rootScopes(): Promise<string[]>;
  /** whether the package `sha256` goes whole, never in pieces (too small for the tracker); absent: never said */
  whole?(sha256: string): Promise<boolean>;
  /**
   * the host's container network (its subnet of the pool, given at its first answer); undefined:
   * no pool set (answered at once, without a promise, when that is known: most hosts, most answers)
   */
  networkOf?(host: string): Promise<HostNetwork | undefined> | undefined;
  /** milliseconds now; tests move it */
  now?: () => number;
  /** how long the next read slice waits at most for the entries the last one began (ENTRY_WAIT_MS; tests) */
  entryWaitMs?: number;
  /** milliseconds since the epoch now, as every server has it (when stagings expire); tests move it */
  epochMs?: () => number;
  /** where `changed()` is told to every server (without one: this server alone) */
  bus?: ChangeBus;
}

/**
 * A host's answer, resolved. It holds its entries' serialized JSON by reference, shared with
 * every host that has them, not a copy: 10,000 hosts woken by one deploy hold one serialized
 * release, not 10,000 (`answerJson` joins the parts for each poll, and the bytes go once written).
 */
export interface ResolvedDesired {
  generation: number;
  instances: DesiredInstance[];
  server: ServerStamp;
  /** the host's container network (absent: no pool set) */
  network?: HostNetwork;
  /** the entries, serialized once for every host that has them */
  entries: readonly { json: string }[];
  /** the rest of the answer serialized (server, signing, network), each after a comma, shared by the hosts whose rest is the same */
  tail: string;
  /** the packages the host may download: its releases', the runtimes they name, and what is staged for it */
  fetchable: ReadonlySet<string>;
  /** packages staged for the host (its next batch's), serialized after a comma; '' for none */
  stageJson: string;
}

/** One entry resolved, shared by every host that has it. */
interface ResolvedEntry {
  instance: DesiredInstance;
  json: string;
  fetchable: ReadonlySet<string>;
}

/** What a host with no entry may fetch: nothing (one set for all of them). */
const NOTHING: ReadonlySet<string> = new Set();
const NONE_STAGED: readonly StagedPackageRow[] = [];

/** What a host's answer reads of the store. */
interface HostRead {
  state: { generation: number; entries: DesiredRow[] };
  server: ServerStamp;
  /** the packages staged for it (its next batch's), as the store has them now */
  staged: readonly StagedPackageRow[];
}

interface Held<T> {
  at: number;
  value: Promise<T>;
}

/**
 * The answers of every host that polls this server, resolved when their desired state (or what
 * it depends on) changed, and read by each poll.
 *
 * @example
 *   const view = new DesiredView({ store, signing, kindOf, runtimeRefs, secretsFor, signatureOf, rootScopes });
 *   hub.listen((host) => view.forget(host));
 *   reply.send(answerJson(await view.answer('h1'), [], undefined));
 */
export class DesiredView {
  private readonly hosts = new Map<string, Held<ResolvedDesired>>();
  private readonly entries = new Map<string, Held<ResolvedEntry>>();
  private readonly now: () => number;
  private readonly epochMs: () => number;
  private readonly entryWaitMs: number;
  private startedSinceSweep = 0;
  /** the tail of the answers of hosts neither adopted nor given a network: the same for all, made once */
  private plainTail: { serverId: string; signing: SigningKey | undefined; json: string } | undefined;
  /** hosts whose state is read in the next batch, with who waits for it */
  private reading: Map<string, { resolve(r: HostRead): void; reject(e: Error): void }[]> | undefined;
  /** how many host answers were resolved (tests count them) */
  resolutions = 0;
  /** each host's generation as last read from the store (alone, or with its answer), and when that read began */
  private readonly generations = new Map<string, { generation: number; at: number }>();
  /** forgets so far (a count), and the count at each host's last one while a read was in flight */
  private forgets = 0;
  private readonly forgotAt = new Map<string, number>();
  private allForgotAt = 0;
  private generationReads = 0;
  /** entry resolutions not settled yet, each with its number (`entryStarts` when it began) */
  private readonly unsettled = new Map<Promise<ResolvedEntry>, number>();
  private entryStarts = 0;
  /** `readBatch` calls running, and the promise of the moment none is (`idle`) */
  private batchesRunning = 0;
  private idleNext: Promise<void> | undefined;
  private idleResolve: (() => void) | undefined;

  constructor(private readonly deps: DesiredViewDeps) {
    this.now = deps.now ?? (() => performance.now()); // monotonic: a wall clock stepped back keeps nothing longer
    this.epochMs = deps.epochMs ?? Date.now;
    this.entryWaitMs = deps.entryWaitMs ?? ENTRY_WAIT_MS;
    // a change on any server (this one too, at once), or changes missed while the bus was away
    deps.bus?.subscribe(CHANNELS.answers, { change: () => this.forgetAll(), resync: () => this.forgetAll() });
    // desired-state wakes missed while the bus was away: no generation kept is to be trusted (the hub forgets each woken host: `forget`)
    deps.bus?.subscribe(CHANNELS.desired, { change: () => undefined, resync: () => this.forgetGenerations() });
  }

  /**
   * The host's desired-state generation (0 for an unknown host): the one read from the store in
   * the last GENERATION_KEEP_MS, else (or `fromStore`) read now. A read during which the host was
   * forgotten (a write committed meanwhile) answers what it read but is not kept.
   */
  async generation(host: string, opts: { fromStore?: boolean } = {}): Promise<number> {
    const now = this.now();
    const kept = this.generations.get(host);
    if (kept !== undefined && !opts.fromStore && now - kept.at < GENERATION_KEEP_MS) return kept.generation;
    const before = this.forgets;
    this.generationReads++;
    try {
      const generation = await this.deps.store.desiredGeneration(host);
      this.keep(host, generation, now, before);
      return generation;
    } finally {
      this.readEnded();
    }
  }

  /**
   * Keeps a generation read from the store by a read that began at `at`, when the forgets then
   * numbered `before`: unless the host (or every host) was forgotten since, as a write committed
   * meanwhile may be newer than what the read saw.
   */
  private keep(host: string, generation: number, at: number, before: number): void {
    if (this.allForgotAt <= before && (this.forgotAt.get(host) ?? 0) <= before) this.generations.set(host, { generation, at });
  }

  private readEnded(): void {
    if (--this.generationReads === 0) this.forgotAt.clear(); // no read left that a forget could concern
  }

  /**
   * The host's answer: the one kept when it is fresh and of the store's generation, else one
   * resolved now. `generation`, when given, is the store's generation as the caller just read it
   * (it saves a read).
   */
  async answer(host: string, generation?: number): Promise<ResolvedDesired> {
    let current = generation;
    for (;;) {
      const kept = this.hosts.get(host);
      if (kept === undefined || !this.fresh(kept)) return this.start(host).value; // reads the store now
      const resolved = await kept.value;
      current ??= await this.generation(host);
      // equal, not "at least": a store put back to an earlier generation (a restored backup) is answered as it is
      if (resolved.generation === current) return resolved;
      if (this.hosts.get(host) === kept) this.hosts.delete(host); // not the store's: resolved next turn
    }
  }

  /**
   * Package `sha256` is staged for none of cluster `tag`'s hosts any more (its deployment ended,
   * or goes back): the store's stagings go, and this server's answers are resolved anew (the other
   * servers' within DESIRED_FRESH_MS, as they keep theirs no longer).
   */
  async unstage(tag: string, sha256: string): Promise<void> {
    if ((await this.deps.store.unstagePackage(tag, sha256)) === 0) return;
    for (const [host, held] of this.hosts) {
      const resolved = await held.value.catch(() => undefined);
      if (resolved === undefined || resolved.stageJson !== '') this.hosts.delete(host); // its fetchable set shrinks at its next answer
    }
  }

  /** What is staged for `host` and not yet named by its instances (`named`). */
  private stagedFor(staged: readonly StagedPackageRow[], named: ReadonlySet<string>): StagedPackage[] {
    const out: StagedPackage[] = [];
    for (const p of staged) if (!named.has(p.sha256)) out.push({ ...p, url: `${API_PREFIX}/artifacts/${p.sha256}` });
    return out;
  }

  /** The host's desired state changed (the hub's wake): its generation is read again, its next answer resolved anew. */
  forget(host: string): void {
    this.hosts.delete(host);
    this.generations.delete(host);
    this.forgets++;
    if (this.generationReads > 0) this.forgotAt.set(host, this.forgets);
  }

  /**
   * Something every answer depends on changed (a root grant, a secret, a runtime): all are
   * resolved anew, here at once and on every other server when the bus brings it.
   */
  changed(): void {
    if (this.deps.bus === undefined) {
      this.forgetAll();
      return;
    }
    this.deps.bus.publish(CHANNELS.answers, '').catch((err: Error) => process.emitWarning(`desired view: ${err.message}`));
  }

  /** Forgets every answer, entry and generation kept here (what `changed()` does on each server, and a new address pool). */
  forgetAll(): void {
    this.hosts.clear();
    this.entries.clear();
    this.forgetGenerations();
  }

  private forgetGenerations(): void {
    this.generations.clear();
    this.allForgotAt = ++this.forgets;
  }

  private fresh(held: Held<unknown>): boolean {
    return this.now() - held.at < DESIRED_FRESH_MS;
  }

  private start(host: string): Held<ResolvedDesired> {
    if (++this.startedSinceSweep >= SWEEP_EVERY) this.sweep();
    const held: Held<ResolvedDesired> = { at: this.now(), value: this.resolveHost(host) };
    this.hosts.set(host, held);
    // a failure goes to the polls that wait on it, and is asked again next time, not kept
    held.value.catch(() => this.hosts.get(host) === held && this.hosts.delete(host));
    return held;
  }

  /** Drops the answers too old to be served (they would be resolved anew anyway). */
  private sweep(): void {
    this.startedSinceSweep = 0;
    for (const [host, held] of this.hosts) if (!this.fresh(held)) this.hosts.delete(host);
  }

  /**
   * The host's desired state and adoption, read with those of every other host resolved in the
   * same turn of the event loop: a deploy that wakes 10,000 parked polls reads them in a few
   * statements, not 20,000.
   */
  private read(host: string): Promise<HostRead> {
    return new Promise((resolve, reject) => {
      if (this.reading === undefined) {
        this.reading = new Map();
        setImmediate(() => void this.readBatch());
      }
      let waiting = this.reading.get(host);
      if (waiting === undefined) this.reading.set(host, (waiting = []));
      waiting.push({ resolve, reject });
    });
  }

  private async readBatch(): Promise<void> {
    const batch = this.reading!;
    this.reading = undefined;
    const hosts = [...batch.keys()];
    const { store } = this.deps;
    this.batchesRunning++;
    /** the count of entry resolutions started when this slice was read */
    let mark = this.entryStarts;
    // In slices: a slice's answers are written (their polls' code runs in microtasks, the
    // writes to the sockets with it) before the next slice is read, so the clients start on them
    // while the server reads on; before, every host's row was read first (10,000 took 0.3 s
    // before the first answer went out). No turn of the event loop between slices: the requests
    // the answered agents send at once (their next poll, a report) would then be taken between
    // them, and the last answers of the batch waited behind them (every agent's desired state
    // 8.0 s after the deploy at 10,000 simulated agents, against 6.5-7.6 s).
    for (let at = 0; at < hosts.length; at += READ_SLICE) {
      if (at > 0) {
        await drained(); // after the microtasks the last slice's answers queued
        // An entry the last slice resolved first (a new release) may wait on I/O (the package's
        // size, on any store; the store itself on PostgreSQL): its hosts' answers go out now,
        // not after the last slice is read. Before, at 10,000 hosts on SQLite every answer of
        // a deploy waited on one `stat` behind all 20 slices, and the answers read but not yet
        // written (all of them) lived through a dozen scavenges and into a major collection.
        // Only the entries it started, and for ENTRY_WAIT_MS at most: one that never settles
        // (a store that hangs) holds its own hosts' answers, not every slice after it.
        const started = this.startedSince(mark);
        if (started.length > 0) {
          await settledWithin(started, this.entryWaitMs);
          await drained();
        }
      }
      const slice = hosts.slice(at, at + READ_SLICE);
      mark = this.entryStarts;
      const began = this.now();
      const before = this.forgets;
      this.generationReads++;
      try {
        const [states, adopted, id] = await Promise.all([
          store.getDesiredMany(slice),
          store.getMetaMany(slice.map(adoptedKey)),
          serverIdentity(store),
        ]);
        // after the generations: a staging is written before the generations it raises, so an
        // answer of a raised generation names it (read at once, the two could pass each other)
        const staged = await store.stagedMany(slice, this.epochMs());
        for (const host of slice) {
          const state = states.get(host)!;
          // the generation read with the answer is kept as `generation()` keeps its own: the
          // host's next poll and reports ask for it (after a deploy, 10,000 single reads)
          this.keep(host, state.generation, began, before);
          const read = { state, server: stampOf(id, adopted.get(adoptedKey(host))), staged: staged.get(host) ?? NONE_STAGED };
          for (const w of batch.get(host)!) w.resolve(read);
        }
      } catch (err) {
        for (const host of slice) for (const w of batch.get(host)!) w.reject(err as Error);
      } finally {
        this.readEnded();
      }
    }
    // idle after the microtasks queued now (its last slice's answers, unless their entry waits on I/O)
    if (--this.batchesRunning === 0) process.nextTick(() => this.wakeIdle());
  }

  /**
   * Resolves when no read of hosts is queued or running here (the hub paces its wake on it); at
   * once if none is. Who asks while a read runs shares one promise.
   */
  idle(): Promise<void> {
    if (this.batchesRunning === 0 && this.reading === undefined) return Promise.resolve();
    this.idleNext ??= new Promise((resolve) => (this.idleResolve = resolve));
    return this.idleNext;
  }

  private wakeIdle(): void {
    if (this.batchesRunning > 0 || this.reading !== undefined) return; // another read began: its end tells them
    const resolve = this.idleResolve;
    this.idleNext = this.idleResolve = undefined;
    resolve?.();
  }

  /** The entry resolutions started since the count was `mark` and not settled yet. */
  private startedSince(mark: number): Promise<ResolvedEntry>[] {
    const out: Promise<ResolvedEntry>[] = [];
    for (const [p, n] of this.unsettled) if (n >= mark) out.push(p);
    return out;
  }

  private async resolveHost(host: string): Promise<ResolvedDesired> {
    this.resolutions++;
    const pending = this.deps.networkOf?.(host);
    const [{ state, server, staged }, network] =
      pending === undefined ? [await this.read(host), undefined] : await Promise.all([this.read(host), pending]);
    const entries = await Promise.all(state.entries.map((e) => this.entry(e)));
    const named: ReadonlySet<string> =
      entries.length === 0 ? NOTHING : entries.length === 1 ? entries[0]!.fetchable : new Set(entries.flatMap((e) => [...e.fetchable]));
    const stage = staged.length === 0 ? [] : this.stagedFor(staged, named);
    return {
      generation: state.generation,
      instances: entries.map((e) => e.instance),
      server,
      ...(network !== undefined && { network }),
      entries,
      tail: this.tailOf(server, network),
      fetchable: stage.length === 0 ? named : new Set([...named, ...stage.map((p) => p.sha256)]),
      stageJson: stage.length === 0 ? '' : `,"stage":${JSON.stringify(stage)}`,
    };
  }

  /** As JSON.stringify writes { server, signing, network } after the instances: one string for every plain host. */
  private tailOf(server: ServerStamp, network: HostNetwork | undefined): string {
    const { signing } = this.deps;
    const plain = server.adopted === undefined && network === undefined;
    const kept = this.plainTail;
    if (plain && kept !== undefined && kept.serverId === server.id && kept.signing === signing) return kept.json;
    const json = `,"server":${JSON.stringify(server)}${signing === undefined ? '' : `,"signing":${JSON.stringify(signing)}`}${
      network === undefined ? '' : `,"network":${JSON.stringify(network)}`
    }`;
    if (plain) this.plainTail = { serverId: server.id, signing, json };
    return json;
  }

  /**
   * An entry, resolved once for every host that has it. A release (job, version) never changes,
   * so the tag, version, package, deployment and kind name everything the entry's row holds.
   */
  private entry(e: DesiredRow): Promise<ResolvedEntry> {
    const key = `${e.tag}\n${e.version}\n${e.sha256}\n${e.deploymentId}\n${e.kind ?? ''}\n${e.driver ?? ''}\n${e.replicas ?? ''}`;
    const kept = this.entries.get(key);
    if (kept !== undefined && this.fresh(kept)) return kept.value;
    if (this.entries.size >= MAX_RESOLVED_ENTRIES) {
      for (const [k, held] of this.entries) if (!this.fresh(held)) this.entries.delete(k);
      if (this.entries.size >= MAX_RESOLVED_ENTRIES) this.entries.clear();
    }
    const held: Held<ResolvedEntry> = { at: this.now(), value: this.resolveEntry(e) };
    this.entries.set(key, held);
    // kept while it resolves (`readBatch` waits for those its slice started); a bound on what one that never settles keeps
    if (this.unsettled.size >= MAX_RESOLVED_ENTRIES) this.unsettled.clear();
    this.unsettled.set(held.value, this.entryStarts++);
    held.value.then(
      () => this.unsettled.delete(held.value),
      () => {
        this.unsettled.delete(held.value);
        if (this.entries.get(key) === held) this.entries.delete(key);
      },
    );
    return held.value;
  }

  private async resolveEntry(e: DesiredRow): Promise<ResolvedEntry> {
    const { deps } = this;
    const rootScopes = await deps.rootScopes();
    const kind = e.kind ?? (e.deploymentId === null ? 'deploy' : await deps.kindOf(e.deploymentId));
    const manifest = e.manifest as unknown as ReleaseManifest;
    const runtimes = await deps.runtimeRefs(manifest);
    const instance: DesiredInstance = {
      tag: e.tag,
      version: e.version,
      sha256: e.sha256,
      url: `${API_PREFIX}/artifacts/${e.sha256}`,
      // a package the tracker would send whole anyway: the agent need not ask it (one request less per host)
      ...((await deps.whole?.(e.sha256)) && { whole: true }),
      // an undeploy writes an entry only to send a host back: its processes see a rollback
      manifest,
      deploymentId: e.deploymentId,
      kind: kind === 'undeploy' ? 'rollback' : kind,
      runtimes,
      allowRoot: rootAllowed(e.tag, rootScopes),
      ...(await deps.secretsFor(e.tag, manifest)), // values for the hosts of this instance only
      signature: await deps.signatureOf(jobOf(e.tag), e.version),
      ...(e.driver && { driver: e.driver }), // resolved when the entry was written (rollout's executor)
      // copies per process on this host, resolved when written (absent: one, as every answer before replicas)
      ...(e.replicas != null && e.replicas > 1 && { replicas: e.replicas }),
    };
    return { instance, json: JSON.stringify(instance), fetchable: new Set([e.sha256, ...runtimes.map((r) => r.sha256)]) };
  }
}

/** Resolves once the microtasks queued before it have run (and those they queued in turn). */
function drained(): Promise<void> {
  return new Promise((r) => process.nextTick(r));
}

/**
 * The bytes of one poll's answer: the resolved state, then what each poll adds (the stops of
 * the running undeploys, the load-balancer pools of a balancer host, the commands handed over),
 * as JSON.stringify would write them.
 */
export function answerJson(
  resolved: ResolvedDesired,
  stops: readonly string[],
  commands: unknown[] | undefined,
  balancers?: DesiredBalancers,
): string {
  // As JSON.stringify writes { generation, instances, server, signing, network, stage, stops, balancers, commands }.
  let out = `{"generation":${JSON.stringify(resolved.generation)},"instances":[`;
  for (let i = 0; i < resolved.entries.length; i++) out += i === 0 ? resolved.entries[i]!.json : `,${resolved.entries[i]!.json}`;
  out += `]${resolved.tail}${resolved.stageJson}`;
  if (stops.length > 0) out += `,"stops":${JSON.stringify(stops)}`;
  if (balancers !== undefined) out += `,"balancers":${JSON.stringify(balancers)}`;
  if (commands !== undefined) out += `,"commands":${JSON.stringify(commands)}`;
  return `${out}}`;
}
