/**
 * `noops agent`: the host daemon. Joins the server (once; the token is kept in ROOT/agent.json),
 * adopts the processes a previous agent left running, long-polls its desired state, reconciles,
 * and reports its actual state on every heartbeat and on every change.
 *
 * The agent knows the server only through the API client. When the server is away the host
 * keeps running what it runs, and the agent retries until it is back.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { fenceNodePackageScope } from '../release/index.js';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { isPieceDest, type PieceDest } from '../swarm/index.js';
import { SwarmClient } from './swarm-download.js';
import { ApiClient, ServerList, parseServers, sendBalancerReports } from '../api/index.js';
import type { ClientTrust } from '../api/index.js';
import type { AgentReport, CapacityOverride, DesiredInstance, DesiredState, ProcessReport, StagedPackage } from '../api/index.js';
import { CapacityGauge } from './capacity.js';
import { NoopsError } from '../errors/index.js';
// Each from its own module, never an index: the agent loads no schema library (zod, yaml) and
// no tar until it unpacks something (docs/benchmarks.md#supervisor: the agent's own memory).
import { healthCheckOf } from '../release/index.js';
import { listInstalledRuntimes } from '../runtimes/index.js';
import { ARCH_LABEL, OS_LABEL, hostPlatform } from '../runtimes/index.js';
import { canInstallRuntimes, runtimeKey } from '../runtimes/index.js';
import type { HostRuntimeReport } from '../runtimes/index.js';
import type { SupervisorOptions } from '../supervisor/index.js';
import { diskReleases, type ProcessSupervisor, type ReleaseStore } from './backends.js';
import { BalancerLoop } from './balancers/loop.js';
import { CommandLoop } from './control/server-commands.js';
import { Control } from './control/control.js';
import { CtlServer } from './control/ctl-server.js';
import { HealthMonitor } from './health/monitor.js';
import { publishReport, ReportPacer, UpTransitions } from './report-pacer.js';
import { Host } from './host.js';
import { AgentMetrics } from './metrics/index.js';
import { detectStartFailures, reconcile, runtimesDir } from './reconcile.js';
import { RuntimePruner } from './install/runtime-prune.js';
import { ServerTrust } from './trust/server-trust.js';
import { KeyPin } from './trust/signing.js';
import { sleep } from './sleep.js';
import { instanceProcesses, processId, watchSpec } from './specs.js';
import { hostUsers, setUpProcessUser } from './run-as.js';
import { EngineRunner } from './containers/runner.js';
import { loadIdentity, saveIdentity } from './state.js';

/** Retry delays while the server is unreachable: fast at first, then every 5 s. */
export const RETRY_MIN_MS = 250;
export const RETRY_MAX_MS = 5000;
/**
 * A state change is reported this long after it, so a burst of changes is one report. A health
 * transition (a process turning healthy or unhealthy: what naming and the balancers wait on) is
 * reported at once instead (report-pacer.ts).
 */
export const REPORT_DEBOUNCE_MS = 100;
/**
 * A report the server has not answered in this long is given up, and the next heartbeat sends
 * the state again. Without it (with one server the client sets no deadline; undici's own is
 * 300 s) one answer that never comes (a half-open connection to a server whose host died) held
 * the heartbeat loop and the pacer, and the host went quiet. Not shorter: an overloaded server
 * still works on a report its agent gave up, and 10,000 simulated agents giving up at 15 s while
 * deploying at once sent about three times the reports and got fewer through (session 11).
 */
export const REPORT_ANSWER_MS = 60_000;
/**
 * How old what a report says of runtimes (can install, installed) may get: read again after a
 * reconcile only when it installed or removed one, and by a report once this old (what a person
 * changed by hand: a folder made read-only, a runtime removed). Five minutes: 10,000 simulated
 * agents' probes once a minute fell into every deploy of the fleet benchmark.
 */
export const RUNTIME_FACTS_MAX_AGE_MS = 5 * 60_000;
/** Events sent per report at most: a flood of events cannot make a report too big. */
export const EVENTS_PER_REPORT = 200;
/**
 * With several servers, a long poll with no answer after this long counts as its server failing:
 * a server answers within its long-poll time (DEFAULT_LONG_POLL_MS, 25 s) even when nothing
 * changed, and 10 s more covers a loaded one. A hung server is found sooner by a report, which
 * waits ANSWER_TIMEOUT_MS; leaving it cuts this poll at once.
 */
export const LONG_POLL_TIMEOUT_MS = 35_000;

/** Packages fetched ahead and not installed yet that the agent remembers (their install says it downloaded): a few deploys' worth. */
const FETCHED_AHEAD_KEPT = 64;

export interface AgentOptions {
  /**
   * the server, or several servers of one database (a comma-separated list, or an array): the
   * agent picks one at random and moves to the next when it stops answering; undefined for a
   * standalone agent (only the host's watches file)
   */
  server?: string | readonly string[];
  joinToken?: string;
  /** what the agent pins its server by: the CA of its TLS certificate (`noops agent --ca`); not `trust`, the server-identity check */
  pinned?: ClientTrust;
  root: string;
  name: string;
  labels: Record<string, string>;
  log?: (line: string) => void;
  supervisor?: SupervisorOptions;
  /** the standalone watches file; default ROOT/watches.yaml */
  watchesFile?: string;
  /** called by `noops ctl nuke` once everything is stopped: the agent's process should exit */
  onNuke?: () => void;
  /**
   * Open the control socket ROOT/run/ctl.sock for `noops ctl` (default true). The fleet
   * benchmark's simulated agents, thousands in one process, go without.
   */
  ctl?: boolean;
  /** how long a runtime nothing uses stays installed (default a day) */
  runtimeKeepMs?: number;
  /** how often unused runtimes are looked for, deploy or no deploy (default an hour; tests make it short) */
  runtimePruneEveryMs?: number;
  /**
   * The host's processes and releases: by default a real `Supervisor` and releases on disk.
   * The fleet benchmark passes simulated ones (see src/agent/backends.ts).
   */
  host?: { supervisor?: ProcessSupervisor; releases?: ReleaseStore };
  /** told of each desired state received and each report sent (benchmarks, tests) */
  observer?: AgentObserver;
  /**
   * The user processes without `user:` run as, created if missing (`noops agent --user`, default
   * `noops`). Only an agent that runs as root uses it; without it, processes run as the agent's own user.
   */
  user?: string;
  /** ms between metric collections, a whole number of seconds (`noops agent --metrics-every`; default 60 s) */
  metricsEveryMs?: number;
  /**
   * The Falcon push API's address (`noops agent --push-listen`, whose default is 127.0.0.1:1988);
   * undefined here: none, so tests and benchmarks that run many agents do not fight over a port.
   */
  pushListen?: string;
  /** collect the host's base metrics from /proc (default: yes for a real host, no with a simulated supervisor) */
  hostMetrics?: boolean;
  /** how long a report may wait for its answer (default REPORT_ANSWER_MS; tests) */
  reportAnswerMs?: number;
  /** what the host offers instead of what the agent measures, per field (`noops agent --capacity`; capacity.ts) */
  capacity?: CapacityOverride;
  /**
   * Where to serve package pieces to peers, `HOST:PORT` (`noops agent --peer-listen`, default
   * 0.0.0.0:7701); undefined: none (the agent still fetches pieces from peers). docs/packages-p2p.md
   */
  peerListen?: string;
  /** the URL peers reach this agent at (`--peer-url`), when not the address the server sees it at plus the port; said at join too (the server keeps it) */
  peerUrl?: string;
  /** false: packages come whole from the server, never in pieces (default true; benchmarks compare) */
  pieces?: boolean;
}

/** Hooks into the agent's protocol, called synchronously; they must not throw. */
export interface AgentObserver {
  desired?(state: DesiredState): void;
  reported?(report: AgentReport): void;
}

export class Agent {
  readonly root: string;
  readonly name: string;
  readonly host: Host;
  private api: ApiClient;
  /** the servers and the one the agent uses now; shared by its join and token clients */
  private readonly servers: ServerList | undefined;
  private readonly health: HealthMonitor;
  private heartbeatMs = 5000;
  private reportedSeq = 0;
  /** the reports' order (AgentReport.order): this start's draw and the reports counted */
  private readonly boot = randomBytes(6).toString('hex');
  private reports = 0;
  private ctl: CtlServer | undefined;
  private commands: CommandLoop | undefined;
  private desired: DesiredInstance[] | undefined;
  private desiredGeneration = -1;
  /** the generation of the desired state last accepted (what `desired` is) */
  private acceptedGeneration = -1;
  private readonly trust: ServerTrust;
  /** the server's release signing key, pinned in agent.json */
  private readonly pin: KeyPin;
  private stopped = false;
  private closed = false;
  private readonly abort = new AbortController();
  private reconciling: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = RETRY_MIN_MS;
  /** when a change is reported: at once for a health transition, else after REPORT_DEBOUNCE_MS */
  private readonly pacer = new ReportPacer({ send: () => this.report(), debounceMs: REPORT_DEBOUNCE_MS });
  /** which processes are up, so that a state change into or out of up counts as a health transition */
  private readonly ups = new UpTransitions();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** when (performance.now()) the newest report that armed the heartbeat timer was sent */
  private heartbeatArmedBy = 0;
  private readonly log: (line: string) => void;
  private runtimeFacts: HostRuntimeReport | undefined;
  /** when the runtime facts were last read (Date.now()), and how many reads began */
  private runtimeFactsAt = 0;
  private runtimeFactsReads = 0;
  private readonly runtimes: RuntimePruner;
  /** what the host offers the scheduler, measured every minute (none when standalone) */
  private readonly capacity: CapacityGauge | undefined;
  /** host and instance points, the push API, and the queue the reports carry (none when standalone) */
  readonly metrics: AgentMetrics | undefined;
  private metricsStopped: Promise<void> | undefined;
  /** the load-balancer pools this host drives, applied beside the reconcile (none when standalone) */
  private readonly balancers: BalancerLoop | undefined;
  /** whether the server's last desired state (generation `desiredGeneration`) was accepted: its pools are applied only then */
  private answerTrusted = false;
  /** where releases go, with an install that waits for its package when it is being fetched ahead */
  private readonly releases: ReleaseStore;
  /** packages staged for this host's next batch (`stage`: docs/packages-p2p.md), to fetch ahead, in order */
  private aheadQueue: StagedPackage[] = [];
  /** the package being fetched ahead now, and the end of its download */
  private aheadNow: { sha256: string; done: Promise<void> } | undefined;
  /** packages fetched ahead into the cache and not installed yet */
  private readonly fetchedAhead = new Set<string>();
  /** the container network of the last accepted answer, as JSON */
  private networkJson: string | undefined;
  /**
   * an accepted answer changed the host's network: the next reconcile writes and reports its
   * generation even when it changes no instance (the network is applied beside the reconcile)
   */
  private networkMoved = false;
  /** a reconcile or its save failed: what it changed may not be in state.json, and the next reconcile saves it */
  private unsaved = false;
  /** the container driver on the host's Docker Engine (docs/containers.md); none with a simulated supervisor */
  private readonly containers: EngineRunner | undefined;
  /** packages in pieces from peers, and this host's pieces served to them (none when standalone) */
  readonly swarm: SwarmClient | undefined;

  constructor(private readonly opts: AgentOptions) {
    const base = opts.host?.releases ?? diskReleases;
    this.releases = {
      // A package being fetched ahead now is waited for (the install then finds it in the cache),
      // not fetched twice; one still queued is fetched by the install, and no longer ahead.
      install: async (o) => {
        this.aheadQueue = this.aheadQueue.filter((p) => p.sha256 !== o.sha256);
        if (this.aheadNow?.sha256 === o.sha256) await this.aheadNow.done;
        const r = await base.install(o);
        // found in the cache, but downloaded (ahead) all the same: the rollout says so
        return this.fetchedAhead.delete(o.sha256) ? { ...r, downloaded: true } : r;
      },
      activate: (root, tag, version) => base.activate(root, tag, version),
      prune: (root, tag, keep, protect) => base.prune(root, tag, keep, protect),
      ...(base.prefetch && { prefetch: (root, sha256, download) => base.prefetch!(root, sha256, download) }),
    };
    this.root = opts.root;
    this.name = opts.name;
    this.log = opts.log ?? ((line) => process.stderr.write(`noops agent ${opts.name}: ${line}\n`));
    this.containers = opts.host?.supervisor === undefined ? new EngineRunner({ host: opts.name, log: this.log }) : undefined;
    this.host = new Host({
      root: this.root,
      supervisor: { ...opts.supervisor, ...(this.containers && { containers: this.containers }) },
      processes: opts.host?.supervisor,
      sampleUsage: opts.host?.supervisor === undefined,
      watchesFile: opts.watchesFile,
      log: this.log,
      users: hostUsers(opts.user, process.getuid?.() ?? -1),
    });
    fenceNodePackageScope(this.root);
    this.servers = opts.server === undefined ? undefined : new ServerList(parseServers(opts.server, '--server'));
    this.servers?.onChange((from, to) => this.log(`server ${from} stopped answering; now using ${to}`));
    this.api = new ApiClient(this.servers ?? 'http://127.0.0.1:0', undefined, opts.pinned);
    this.host.supervisor.on('state', (s) => this.scheduleReport(this.ups.moved(s.id, s.state)));
    this.host.crons.on('change', () => this.scheduleReport());
    this.health = new HealthMonitor({ onChange: (transition) => this.scheduleReport(transition) });
    this.pin = new KeyPin(this.root);
    this.trust = new ServerTrust(this.host, this.name, this.log, () => this.scheduleReport(), this.pin);
    this.runtimes = new RuntimePruner({
      root: this.root,
      state: this.host.state,
      save: () => this.host.save(),
      log: this.log,
      runtimeKeepMs: opts.runtimeKeepMs,
      everyMs: opts.runtimePruneEveryMs,
      busy: () => this.reconciling !== undefined,
      removed: () => void this.refreshRuntimeFacts().then(() => this.scheduleReport()),
    });
    this.metrics = this.standalone
      ? undefined
      : new AgentMetrics({
          endpoint: this.name,
          everyMs: opts.metricsEveryMs,
          instances: (endpoint, step, now) => this.host.instanceMetrics(endpoint, step, now),
          hostMetrics: opts.hostMetrics ?? opts.host?.supervisor === undefined,
          pushListen: opts.pushListen,
          onPoints: () => this.scheduleReport(),
          log: this.log,
        });
    this.capacity = this.standalone ? undefined : new CapacityGauge({ root: this.root, override: opts.capacity, log: this.log });
    this.swarm =
      this.standalone || opts.pieces === false
        ? undefined
        : new SwarmClient({
            root: this.root,
            api: () => this.api,
            key: () => this.pin.key,
            listen: opts.peerListen,
            url: opts.peerUrl,
            log: this.log,
            signal: this.abort.signal,
          });
    this.balancers = this.standalone
      ? undefined
      : new BalancerLoop({ send: (reports) => sendBalancerReports(this.api, reports), heartbeatMs: () => this.heartbeatMs, log: this.log });
  }

  /** True when the agent runs without a server. */
  get standalone(): boolean {
    return this.opts.server === undefined;
  }

  /**
   * Opens the control socket (refusing a root another agent runs on), adopts, joins, and starts
   * the loops. Resolves once joined (at once when standalone).
   */
  async start(): Promise<void> {
    const control = new Control(this.host, { nuke: () => this.nuke() });
    if (this.opts.ctl !== false) {
      this.ctl = await CtlServer.listen(this.root, control, {
        afterNuke: () => void this.stop().then(() => this.opts.onNuke?.()),
      });
    }
    if (this.host.users.defaultUser !== null)
      for (const w of setUpProcessUser(this.host.users.defaultUser, this.root)) this.log(`warning: ${w}`);
    await this.host.adoptAll();
    this.runtimes.start();
    if (this.standalone) return;
    await this.metrics?.start();
    await this.refreshRuntimeFacts();
    await this.capacity?.start();
    await this.swarm?.start();
    await this.join(false);
    this.commands = new CommandLoop(() => this.api, control, this.log, this.abort.signal, this.containers);
    void this.desiredLoop();
    this.heartbeat();
  }

  /** Stops the agent's loops. The supervised processes keep running (a new agent adopts them). */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.haltLoops();
    await this.ctl?.close();
    await this.metricsStopped;
    await this.balancers?.stop();
    await this.reconciling;
    await this.swarm?.stop();
    await this.runtimes.idle();
    this.host.detach();
  }

  /** Stops every supervised process too (for tests and `noops ctl nuke`). */
  async stopAll(): Promise<void> {
    await this.nuke();
    await this.stop();
  }

  /** No more reconciling, reports or commands; what runs keeps running. */
  private haltLoops(): void {
    this.stopped = true;
    this.abort.abort();
    this.pacer.stop();
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.retryTimer);
    this.health.stop();
    this.runtimes.stop();
    this.capacity?.stop();
    this.metricsStopped ??= this.metrics?.stop();
    void this.balancers?.stop();
  }

  /** `noops ctl nuke`: the loops end first (no deploy may start anything), then every watch stops. */
  private async nuke(): Promise<void> {
    this.log('nuke: stopping every watch and the agent');
    this.haltLoops();
    await this.reconciling;
    await this.host.nuke();
  }

  private async join(force: boolean): Promise<void> {
    const known = loadIdentity(this.root);
    // agent.json keeps the list joined by commas; a token is valid on every server of its
    // database, so it is kept while the list still names one of the servers it was given by.
    const servers = this.servers!;
    const knownServers = known?.server.split(',') ?? [];
    if (!force && known && knownServers.some((u) => servers.urls.includes(u)) && known.name === this.name) {
      this.api = new ApiClient(servers, known.token, this.opts.pinned);
      try {
        await this.api.whoami();
        return;
      } catch (err) {
        if (!(err instanceof NoopsError && err.code === 'NOOPS_E_UNAUTHORIZED')) {
          if (err instanceof NoopsError && err.code === 'NOOPS_E_SERVER_UNREACHABLE') return; // keep the token, retry later
          throw err;
        }
      }
    }
    for (let delay = RETRY_MIN_MS; ; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
      try {
        if (!this.opts.joinToken) throw new NoopsError('NOOPS_E_UNAUTHORIZED', "the agent needs the server's join token to join");
        // The platform labels let the server check a runtime's platform before a deploy; given labels win.
        const [os, arch] = hostPlatform().split('/');
        const labels = { [OS_LABEL]: os!, [ARCH_LABEL]: arch!, ...this.opts.labels };
        const res = await new ApiClient(servers, this.opts.joinToken, this.opts.pinned).join({
          name: this.name,
          labels,
          ...(this.opts.peerUrl !== undefined && { peerUrl: this.opts.peerUrl }),
        });
        this.heartbeatMs = res.heartbeatMs;
        // A new token keeps the pinned key: joining again never replaces it (docs/trust.md#signed-releases).
        saveIdentity(this.root, {
          server: servers.urls.join(','),
          name: this.name,
          token: res.token,
          ...(this.pin.key && { signingKey: this.pin.key }),
        });
        this.api = new ApiClient(servers, res.token, this.opts.pinned);
        this.log(`joined ${servers.current()}`);
        this.trust.joined(res.serverId, res.signing);
        return;
      } catch (err) {
        // A live host holds this name: wait for an admin's `noops host approve`, asking again.
        const taken = err instanceof NoopsError && err.code === 'NOOPS_E_HOST_TAKEN';
        if (taken && delay === RETRY_MIN_MS) this.log(`join refused: ${(err as NoopsError).message}; ${(err as NoopsError).hint}`);
        if (!(taken || (err instanceof NoopsError && err.code === 'NOOPS_E_SERVER_UNREACHABLE')) || this.stopped) throw err;
        await sleep(delay, this.abort.signal);
      }
    }
  }

  private async desiredLoop(): Promise<void> {
    let delay = RETRY_MIN_MS;
    let moved = false;
    while (!this.stopped) {
      const polled = this.api.server;
      try {
        // One long poll brings desired state and commands both (a command wakes it too). It is
        // not made again by the client on another server: this loop asks that one at once, below.
        const ds = await this.api.desired(this.desiredGeneration, {
          signal: this.abort.signal,
          commands: true,
          balancers: this.balancers?.pollIndex(),
          failover: false,
          timeoutMs: LONG_POLL_TIMEOUT_MS,
        });
        delay = RETRY_MIN_MS;
        moved = false;
        this.opts.observer?.desired?.(ds);
        for (const cmd of ds.commands ?? []) void this.commands?.execute(cmd);
        if (ds.generation !== this.desiredGeneration || this.desired === undefined) {
          this.desiredGeneration = ds.generation; // refused or not: the next poll waits for a change
          // A refused answer changes nothing on the host: what runs keeps running (docs/trust.md).
          this.answerTrusted = this.trust.accepts(ds);
          if (this.answerTrusted) {
            this.acceptedGeneration = ds.generation;
            this.desired = ds.instances;
            this.containers?.setNetwork(ds.network);
            const network = JSON.stringify(ds.network ?? null);
            if (network !== this.networkJson) {
              this.networkJson = network;
              this.networkMoved = true;
            }
            this.kick();
            this.fetchAhead(ds.stage);
          }
        }
        // applied beside the reconcile, never holding it back; only from a server whose state was accepted
        this.balancers?.offer(ds.balancers, this.answerTrusted);
      } catch (err) {
        if (this.stopped) return;
        if (this.balancers?.refusedBy(err)) continue; // a server from before load balancers
        // The server may have come back with another database: ask for its state at once, not
        // after a long poll that waits for a generation above ours (docs/trust.md).
        this.desiredGeneration = -1;
        if (err instanceof NoopsError && err.code === 'NOOPS_E_UNAUTHORIZED') {
          this.log("the server no longer knows this agent's token; joining again");
          await this.join(true).catch((e: Error) => this.log(`join failed: ${e.message}`));
          continue;
        }
        // Its server failed: poll the next one at once, once per answer (all down: the delays below).
        if (this.api.server !== polled && moved === false) {
          moved = true;
          continue;
        }
        await sleep(delay, this.abort.signal);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  /**
   * Fetches into the cache, one after the other in the background, the packages the server staged
   * for this host's next batch (docs/packages-p2p.md): when the batch starts, its install finds
   * the package there. The latest answer says what is staged: a package it no longer names is not
   * fetched (one already being fetched finishes). A failure is only said: the install fetches the
   * package then, as without staging.
   */
  private fetchAhead(stage: StagedPackage[] | undefined): void {
    if (this.releases.prefetch === undefined) return;
    const wanted = (stage ?? []).filter((p) => !this.fetchedAhead.has(p.sha256) && !this.desired?.some((i) => i.sha256 === p.sha256));
    this.aheadQueue = wanted.filter((p) => p.sha256 !== this.aheadNow?.sha256);
    this.nextAhead();
  }

  private nextAhead(): void {
    const prefetch = this.releases.prefetch;
    if (this.aheadNow !== undefined || this.stopped || prefetch === undefined) return;
    const pkg = this.aheadQueue.shift();
    if (pkg === undefined) return;
    const now = {
      sha256: pkg.sha256,
      done: (async () => {
        try {
          await prefetch(this.root, pkg.sha256, (dest) => this.download(pkg.url, dest));
          if (this.fetchedAhead.size >= FETCHED_AHEAD_KEPT) this.fetchedAhead.clear();
          this.fetchedAhead.add(pkg.sha256);
          this.log(`${pkg.tag}: the package of ${pkg.version} is fetched ahead of this host's batch`);
        } catch (err) {
          if (!this.stopped)
            this.log(
              `${pkg.tag}: the package of ${pkg.version} could not be fetched ahead (${(err as Error).message}); its install fetches it`,
            );
        } finally {
          this.aheadNow = undefined;
          this.nextAhead();
        }
      })(),
    };
    this.aheadNow = now;
  }

  /** Runs reconcile now, or once more after the current run. */
  private kick(): void {
    if (this.reconciling) {
      this.again = true;
      return;
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.reconciling = (async () => {
      let retry = false;
      // On the loop's next turn, not inside the answer that kicked it: the same moment on a host,
      // and where one process holds many agents (bench/fleet: 2,500 a worker), the answers that
      // came with this one are read before any of their reconciles runs.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.stopped) return; // stopped meanwhile: nothing starts
      await this.runtimes.idle(); // a prune never runs beside a reconcile
      do {
        this.again = false;
        retry = false;
        const desired = this.desired;
        if (desired === undefined) break; // nothing accepted yet: an empty list would stop everything
        let runtimesChanged = this.runtimeFacts === undefined;
        let quiet = false;
        try {
          const outcome = await reconcile(
            {
              root: this.root,
              supervisor: this.host.supervisor,
              crons: this.host.crons,
              releases: this.releases,
              download: (url, dest) => this.download(url, dest),
              save: () => this.host.save(),
              log: this.log,
              runtimeKeepMs: this.opts.runtimeKeepMs,
              users: this.host.users,
              retryLater: () => {
                retry = true;
              },
              verify: (d) => this.pin.check(d),
              ...(this.containers && { containers: this.containers }),
            },
            this.host.state,
            desired,
            this.host.failures,
          );
          if (outcome.runtimesChanged) runtimesChanged = true;
          if (!retry) this.host.state.generation = this.acceptedGeneration;
          // Nothing but the generation moved (an answer that staged a package for this host's next
          // batch): no save and no report for it; the generation goes with the next ones (the
          // trust memory saved the answer's generation already, server-trust.ts). A staged host of
          // a 1,000-host deploy made a durable write and a report more than one not staged
          // (docs/packages-p2p.md).
          quiet = !outcome.changed && !runtimesChanged && !retry && !this.networkMoved && !this.unsaved;
          if (!quiet) {
            this.unsaved = true; // until the save below returns
            this.host.save();
            this.unsaved = false;
            this.networkMoved = false;
          }
        } catch (err) {
          this.unsaved = true;
          runtimesChanged = true; // it may have stopped anywhere: read them again
          this.log(`reconcile failed: ${(err as Error).stack ?? err}`);
        }
        if (runtimesChanged) await this.refreshRuntimeFacts();
        if (!quiet) this.scheduleReport();
      } while (this.again && !this.stopped);
      // A release that could not be fetched (the server away or overloaded) is tried again
      // later, spread out so that a whole fleet does not come back at the same instant.
      if (retry && !this.stopped) {
        this.retryTimer = setTimeout(() => this.kick(), this.retryDelay * (0.5 + Math.random()));
        this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
      } else {
        this.retryDelay = RETRY_MIN_MS;
      }
    })().finally(() => {
      this.reconciling = undefined;
    });
  }

  private async download(url: string, given: string | Writable | PieceDest): Promise<void> {
    // A package of the server's: in pieces from peers when the server tracks it (docs/packages-p2p.md).
    const sha256 = /\/artifacts\/([0-9a-f]{64})$/.exec(url)?.[1];
    // One the server sends whole anyway (`whole` in the desired state): no question to the tracker first.
    const whole = this.desired?.some((i) => i.url === url && i.whole === true) === true;
    if (this.swarm && sha256 && !whole && !(given instanceof Writable) && (await this.swarm.download(sha256, url, given))) return;
    const dest = isPieceDest(given) ? given.stream() : given;
    const res = await this.api.download(url, { signal: this.abort.signal }); // a stopping agent stops its downloads
    if (!res.body) throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `the server sent an empty body for ${url}`);
    const source = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    let broken: Error | undefined;
    source.once('error', (err) => {
      broken = err;
    });
    const sink = typeof dest === 'string' ? createWriteStream(dest) : dest;
    try {
      await pipeline(source, sink);
    } catch (err) {
      // The connection broke off mid-way: the server's trouble, not the package's.
      if (broken) {
        const server = this.api.server;
        this.servers?.failed(server); // the next try downloads from the next server
        throw new NoopsError('NOOPS_E_SERVER_UNREACHABLE', `the download of ${url} from ${server} broke off: ${broken.message}`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  /** Reports soon: at once for a health transition, else after REPORT_DEBOUNCE_MS (report-pacer.ts). */
  private scheduleReport(transition = false): void {
    if (this.stopped || this.standalone) return;
    this.pacer.change(transition);
  }

  private heartbeat(): void {
    this.heartbeatTimer = undefined;
    if (this.stopped) return;
    const sentAt = performance.now();
    // answered: `report()` armed the next one (or a newer report did); not: a period from now
    void this.report().finally(() => this.heartbeatTimer === undefined && this.armHeartbeat(sentAt));
  }

  /**
   * The next heartbeat a period from now. Armed after each heartbeat, and after any report the
   * server took (a 2xx answer): that one told it this host is alive, so a deploy's reports take
   * the place of the heartbeats that would have followed them (about one request less per host
   * and deploy: 10,000 fewer while a deploy reaches 10,000 hosts, docs/benchmarks.md). `sentAt`
   * (performance.now()) is when that report was sent: one sent before the report that armed the
   * timer, and answered after it, leaves the timer as it is (the server heard the newer one).
   * A heartbeat that finds no timer armed arms one: refused only when a newer heartbeat is on its
   * way (the only way a newer report armed a timer that is gone), and that one arms the next. One
   * timer at most, and never none while the agent runs.
   */
  private armHeartbeat(sentAt: number): void {
    if (this.stopped || sentAt < this.heartbeatArmedBy) return;
    this.heartbeatArmedBy = sentAt;
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => this.heartbeat(), this.heartbeatMs);
  }

  /** Sends the actual state: every process of every instance, the failures, metrics and new events. */
  async report(): Promise<void> {
    const host = this.host;
    detectStartFailures(host.supervisor, host.state, host.failures, this.root);
    if (host.recordAll()) host.save();
    this.checkHealth();
    // read again in the background when old: the next report carries them
    if (Date.now() - this.runtimeFactsAt >= RUNTIME_FACTS_MAX_AGE_MS)
      void this.refreshRuntimeFacts().catch((err: Error) => this.log(`runtimes: could not read them: ${err.message}`));
    const events = host.eventReports(this.reportedSeq, EVENTS_PER_REPORT);
    const points = this.metrics?.take();
    try {
      const report: AgentReport = {
        processes: this.processes(),
        failures: [...host.failures.values()],
        generation: host.state.generation,
        ...(points && { metrics: points.points }),
        events,
        crons: host.cronReports(),
        ...(this.runtimeFacts && { runtimes: this.runtimeFacts }),
        trust: this.trust.report(),
        ...this.capacityReport(),
        order: { boot: this.boot, seq: ++this.reports }, // two may be on their way at once (a heartbeat, a transition)
      };
      const sentAt = Date.now();
      const sentMono = performance.now();
      // a controller and a timer, not AbortSignal.timeout: that one costs about five times the
      // CPU, and 10,000 simulated agents make 2,000 of them a second (bench/fleet)
      const deadline = new AbortController();
      const timer = setTimeout(
        () => deadline.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
        this.opts.reportAnswerMs ?? REPORT_ANSWER_MS,
      );
      const answer = await this.api.report(report, deadline.signal).finally(() => clearTimeout(timer));
      publishReport(this.name, report, sentAt);
      if (points) this.metrics!.settle(points);
      // more points than one report carries: the next report follows at once
      if (points && this.metrics!.queue.size > 0) this.scheduleReport();
      this.opts.observer?.reported?.(report);
      if (events.length > 0) this.reportedSeq = Math.max(this.reportedSeq, events[events.length - 1]!.seq); // an older report may be answered last
      if (answer.heartbeatMs !== undefined && answer.heartbeatMs >= 100) this.heartbeatMs = answer.heartbeatMs;
      this.armHeartbeat(sentMono);
    } catch (err) {
      if (points) this.metrics!.settle(points, err as NoopsError);
      if (!(err instanceof NoopsError && (err.code === 'NOOPS_E_SERVER_UNREACHABLE' || err.code === 'NOOPS_E_UNAUTHORIZED'))) {
        this.log(`report failed: ${(err as Error).message}`);
      }
    }
  }

  /** What the host offers the scheduler, once measured (capacity.ts). */
  private capacityReport(): Pick<AgentReport, 'capacity'> {
    const capacity = this.capacity?.current();
    return capacity ? { capacity } : {};
  }

  /**
   * What the host tells the server about runtimes: whether it can install them, and which it
   * has. Read at the start, after a reconcile or a prune that installed or removed one, and
   * when a report finds them older than RUNTIME_FACTS_MAX_AGE_MS (a folder made read-only by
   * hand, a runtime removed by hand), not at every desired-state change.
   */
  private async refreshRuntimeFacts(): Promise<void> {
    const dir = runtimesDir(this.root);
    this.runtimeFactsAt = Date.now(); // set first: a report finds it fresh while this one reads
    const read = ++this.runtimeFactsReads;
    const { canInstall, reason } = await canInstallRuntimes(dir);
    const installed = (await listInstalledRuntimes(dir)).map((m) => runtimeKey(m.name, m.version));
    // a report's read and a reconcile's may overlap: the one begun last is kept, never an older one
    if (read === this.runtimeFactsReads) this.runtimeFacts = { platform: hostPlatform(), canInstall, reason, installed };
  }

  /** Keeps the health checks in step with what runs: each running process of each instance. */
  private checkHealth(): void {
    const ids = new Set<string>();
    for (const inst of Object.values(this.host.state.instances)) {
      for (const spec of instanceProcesses(inst.desired)) {
        const id = processId(inst.desired.tag, spec.name);
        const s = this.host.supervisor.status(id);
        if (!s || (s.pid === null && !s.container) || (s.state !== 'up' && s.state !== 'starting')) continue;
        ids.add(id);
        const key = `${s.pid}:${s.startTime}:${s.container ?? ''}:${inst.desired.version}`;
        // checked already under this key: its environment is not worked out again at every report
        if (this.health.watching(id, key)) continue;
        const check = healthCheckOf(spec);
        const port = inst.ports[spec.name] ?? null;
        const where = s.address ? { host: s.address } : {};
        // only a command runs where the process runs (its folder, environment and user); a
        // tcp or http check needs its address, none nothing (4% of a simulated agent's deploy)
        if (check.type !== 'command') {
          this.health.watch(id, key, check, { port, cwd: '', env: {}, ...where });
          continue;
        }
        const ws = watchSpec(this.root, inst.desired, spec, inst.ports[spec.name], this.host.users);
        this.health.watch(id, key, check, { port, cwd: ws.cwd, env: ws.env, user: ws.user, allowRoot: ws.allowRoot, ...where });
      }
    }
    this.health.retain(ids);
  }

  /** What runs, per process, as the agent would report it. */
  processes(): ProcessReport[] {
    return this.host.processes((inst, spec, s) => {
      const id = processId(inst.desired.tag, spec.name);
      const checked = healthCheckOf(spec).type !== 'none';
      const h = this.health.status(id);
      // without a check, a process is healthy once it is up (since it became up)
      const health = checked ? (h?.health ?? 'starting') : s?.state === 'up' ? 'healthy' : 'starting';
      const since = checked ? (h?.healthySince ?? null) : s?.state === 'up' ? s.since : null;
      return {
        health,
        healthySince: health === 'healthy' && since !== null ? new Date(since).toISOString() : null,
        healthError: health === 'unhealthy' ? (h?.error ?? null) : null,
        ...(inst.downloaded === undefined ? {} : { downloaded: inst.downloaded }),
        ...(s?.container !== undefined && { container: s.container, address: s.address ?? null, oom: s.oom ?? false }),
      };
    });
  }
}
