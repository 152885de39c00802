/**
 * `noops server`: the control plane. Opens the store, creates the first tokens, serves the API,
 * and runs the rollout controller.
 *
 * @example
 *   const server = await startServer({ dataDir: './.noops', listen: '127.0.0.1:7700' });
 *   console.log(server.url, server.adminTokenFile);
 *   await server.close();
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { NoopsError } from '../errors/index.js';
import { parseListen } from '../net/index.js';
import { openStore, pruneManifestsEvery } from '../store/open.js';
import type { Store } from '../store/index.js';
import { ArtifactStore, type SharedArtifacts } from '../artifacts/index.js';
import { rolloutPorts, type RolloutReader } from '../rollout/index.js';
import { RolloutController } from '../rollout/controller.js';
import { Sandbox, type SandboxMode } from '../build/index.js';
import { BuildRunner } from '../build/runner.js';
import { openSigner } from '../release/signing.js';
import { StoredTree } from '../tree/stored-tree.js';
import type { ServerContext, ServerConfig } from './context.js';
import { DesiredHub } from './hub.js';
import { CHANNELS, type ChangeBus, LocalChangeBus } from '../bus/index.js';
import { openPostgresBus } from '../bus/postgres.js';
import { ActualState } from '../monitor/index.js';
import { DesiredView } from './desired-view.js';
import { NetworkBook } from '../network/index.js';
import { grantsChanged, rootScopes } from './grants-cache.js';
import { secretBook } from '../secrets/sealed.js';
import { SignatureBook } from '../release/signing.js';
import { tightenDataDir } from './data-dir.js';
import { AgentCommandQueue, type CommandQueue } from './agent-commands.js';
import { StoredCommandQueue } from './agent-commands-stored.js';
import { RuntimeCatalog } from '../runtimes/catalog.js';
import { bootstrapTokens } from './tokens.js';
import { aloneOnDatabase, Leadership, LOOPS, newServerId } from '../lead/index.js';
import { balancerHooks, wireRollout } from './rollout-wiring.js';
import { Balancers, balanceStoreOf } from '../balance/index.js';
import { wireMetrics } from './metrics-wiring.js';
import { wireMonitor } from './monitor-wiring.js';
import { wireSchedule } from './schedule-wiring.js';
import { buildApp } from './app.js';
import { tuneHeap } from './heap.js';
import { listenMode, type ServerTls, type TlsOptions } from '../tls/index.js';
import { serverTls } from '../tls/server-tls.js';
import { checkVictoriaUrl, historyBackends, openVictoria } from './victoria-wiring.js';
import { startDns, type RunningDns } from '../naming/index.js';
import { namingOf } from './routes/naming.js';
import { stageAhead } from './stage-ahead.js';

/** Agents report every 5 s: a down host is noticed within seconds, and 10,000 hosts cost the
 * server 2,000 small requests a second. */
export const DEFAULT_HEARTBEAT_MS = 5000;
/** Three missed heartbeats make a host down: one lost packet or a GC pause is not an outage. */
export const DOWN_AFTER_HEARTBEATS = 3;
/** Long polls are answered within 25 s even with no change, under common proxy idle timeouts. */
export const DEFAULT_LONG_POLL_MS = 25_000;
/**
 * Packages smaller than this go whole from the server, never through the tracker: a tracker
 * answer (the desired-state check, a signed ticket, JSON both ways) costs the server about what
 * sending 64 KiB does, and a swarm of thousands of hosts all after one tiny piece costs it far
 * more (10,000 simulated agents' first deploy of a 633-byte package did not finish in 320 s with
 * the tracker, and took seconds without it: docs/packages-p2p.md).
 */
export const SWARM_WHOLE_BELOW_BYTES = 64 * 1024;
/** Connections waiting to be accepted. A fleet connects at once after a deploy (downloads) or a
 * server restart; Node's default of 511 overflows with thousands of agents, and their connects
 * then time out. The kernel caps it at net.core.somaxconn (4096 on current Linux). */
export const LISTEN_BACKLOG = 4096;

export interface ServerOptions {
  dataDir: string;
  /** HOST:PORT; port 0 picks a free port */
  listen: string;
  /** postgres://... or sqlite:PATH; default: SQLite in the data folder */
  db?: string;
  heartbeatMs?: number;
  downAfterMs?: number;
  /** the scheduler moves the instances of a host unheard this long (`--down-after`; default 10 s, docs/scheduler.md) */
  scheduleDownAfterMs?: number;
  longPollMs?: number;
  /** packages smaller than this are sent whole, not through the tracker (default SWARM_WHOLE_BELOW_BYTES) */
  swarmWholeBelowBytes?: number;
  /** send peers to any URL an agent says it serves at (`--trust-peer-urls`; default: refused unless at the address the server sees it at, or stated at join) */
  trustPeerUrls?: boolean;
  /** serve https: with a local CA in DATA/tls/ (`--tls auto`), or with the files given */
  tls?: TlsOptions;
  /** serve plain HTTP on an address other hosts can reach (refused without it) */
  insecure?: boolean;
  /** how builds and deploy tests are sandboxed (`--build-sandbox`): auto, a container of the build image where the Docker Engine answers, else bubblewrap; container, containers or nothing; none */
  buildSandbox?: SandboxMode;
  /** the server's own log lines (what the sandbox could not do); default stderr */
  log?: (line: string) => void;
  /** this server's id among the servers of its database (`--server-id`); default: host name and a random part */
  serverId?: string;
  /** how long a control loop's lease lasts (`--lease-ms`): a dead leader's loops move within about that */
  leaseMs?: number;
  /** the URL other servers and `noops servers` show for this one (`--advertise`); default: the URL it listens on */
  advertise?: string;
  /** VictoriaMetrics' base URL (`--victoria-metrics`): history written there too, and read from there */
  victoriaMetrics?: string;
  /** serve naming's DNS on HOST:PORT, UDP and TCP (`--dns`, docs/naming.md); default: none */
  dns?: string;
  /** a DNS address that cannot be bound is a warning, not a failed start (`noops up`) */
  dnsOptional?: boolean;
}

export interface RunningServer {
  /** http://HOST:PORT, or https:// with TLS */
  url: string;
  /** the certificate served and the CA to give agents; undefined without TLS */
  tls?: ServerTls;
  /** what the operator should know (plain HTTP on the network) */
  warnings: string[];
  adminTokenFile: string;
  joinTokenFile: string;
  /** true when this start created the tokens */
  createdTokens: boolean;
  /** the DNS server, when `dns` was given and bound */
  dns?: RunningDns;
  ctx: ServerContext;
  close(): Promise<void>;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  tuneHeap(); // a fleet's parked polls: garbage collected before the heap grows to 4 times what lives (heap.ts)
  const dataDir = resolve(opts.dataDir);
  const { host, port } = listenAddress(opts.listen, '--listen');
  // Checked before anything is made or opened: a refused start leaves nothing behind.
  const mode = listenMode(host, { tls: opts.tls !== undefined, insecure: opts.insecure === true });
  if (mode === 'refuse') {
    throw new NoopsError(
      'NOOPS_E_TLS_REQUIRED',
      `refusing to serve plain HTTP on ${opts.listen}: other hosts could read every token and send agents what to run`,
    );
  }
  if (opts.victoriaMetrics !== undefined) checkVictoriaUrl(opts.victoriaMetrics); // refused before anything is made
  const warnings =
    mode === 'plain-insecure'
      ? [
          `serving plain HTTP on ${opts.listen} (--insecure): tokens, desired states and packages cross the network readable and unauthenticated`,
        ]
      : [];
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const tls = opts.tls === undefined ? undefined : await serverTls({ dataDir, listenHost: host, tls: opts.tls });
  const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const config: ServerConfig = {
    dataDir,
    heartbeatMs,
    downAfterMs: opts.downAfterMs ?? heartbeatMs * DOWN_AFTER_HEARTBEATS,
    longPollMs: opts.longPollMs ?? DEFAULT_LONG_POLL_MS,
    swarmWholeBelowBytes: opts.swarmWholeBelowBytes ?? SWARM_WHOLE_BELOW_BYTES,
    trustPeerUrls: opts.trustPeerUrls === true,
  };
  const dbUrl = opts.db ?? `sqlite:${join(dataDir, 'noops.db')}`;
  const log = opts.log ?? ((line: string) => process.stderr.write(line));
  const victoria = openVictoria(opts.victoriaMetrics, log);
  const store = await openStore(dbUrl);
  const closers: (() => Promise<void>)[] = [];
  try {
    // What changes here reaches the other servers of the database (LISTEN/NOTIFY); alone on SQLite, this process.
    const bus: ChangeBus = store.kind === 'postgres' ? await openPostgresBus(dbUrl) : new LocalChangeBus();
    closers.push(() => bus.close());
    if (victoria) closers.push(() => victoria.close());
    // One leader per control loop among the database's servers (src/lead/); SQLite is one server's.
    const serverId = opts.serverId ?? newServerId();
    if (store.kind === 'sqlite') await aloneOnDatabase(store, serverId, opts.leaseMs);
    const leadership = new Leadership(store, {
      serverId,
      loops: Object.values(LOOPS),
      leaseMs: opts.leaseMs,
      alone: store.kind === 'sqlite',
      log: (line) => log(`noops server: ${line}\n`),
    });
    closers.unshift(() => leadership.stop()); // a start that fails later gives its leases up
    const tokens = await bootstrapTokens(store, dataDir);
    // An existing folder (and the database and tokens just opened in it) is only the server's to read.
    for (const p of tightenDataDir(dataDir)) process.emitWarning(`data folder: could not tighten ${p}`);
    // DATA/signing.key: every release is signed with it, agents pin it (docs/trust.md#signed-releases)
    const signer = await openSigner(store, dataDir, (line) => log(`noops server: ${line}\n`));
    // several servers: every package is in the database too, and one missing here is fetched from it
    const artifacts = new ArtifactStore(join(dataDir, 'artifacts'), store.kind === 'postgres' ? packagesIn(store) : undefined);
    const sharing = new AbortController();
    const sharedAll = artifacts
      .shareAll(sharing.signal)
      .then((n) => {
        if (n > 0) log(`noops server: shared ${n} package(s) of this data folder through the database\n`);
      })
      .catch((err: Error) =>
        log(`noops server: could not share this data folder's packages (the next start tries again): ${err.message}\n`),
      );
    // before the store closes: a share cut by the closing pool would only log an error
    const stopSharing = async () => {
      sharing.abort();
      await sharedAll;
    };
    closers.push(stopSharing);
    const hub = new DesiredHub(bus);
    // several servers (PostgreSQL): reports shared through the store and the bus; alone (SQLite): this server hears every agent
    const reports = new ActualState(store, config.downAfterMs, store.kind === 'postgres' ? bus : undefined);
    await reports.load(); // what runs, as the store last had it: before any report or route
    // load-balancer pools from the read model, before a rollout resumes (its hooks drain through them; src/balance/)
    const balancers = new Balancers({ reports, store: balanceStoreOf(store), bus });
    closers.push(async () => balancers.close());
    await balancers.start();
    const tags = new StoredTree(store, bus); // nodes another server adds: forgotten here when the bus says so
    const runtimes = new RuntimeCatalog(store, artifacts, join(dataDir, 'runtimes'));
    // what the repositories' code may see: nothing of the data folder but the build runtimes
    const sandbox = await Sandbox.detect({
      mode: opts.buildSandbox ?? 'auto',
      dataDir,
      readable: [runtimes.dir],
      log: opts.log ?? ((line) => process.stderr.write(line)),
    });
    closers.push(() => sandbox.close());
    const builds = new BuildRunner(store, artifacts, tags, sandbox.workRoot('builds'), runtimes, sandbox, signer);
    mkdirSync(sandbox.workRoot('deploy-tests'), { recursive: true, mode: 0o711 });
    await builds.failInterrupted();
    const ports = rolloutPorts(store);
    const rollout = new RolloutController({
      ...ports,
      read: releasesHere(ports.read, artifacts, log),
      lastReport: (h) => reports.lastReport(h),
      notify: (h) => hub.notify(h),
      // The next batch's hosts fetch the package ahead (docs/packages-p2p.md), named in their
      // answers by every server (the store keeps the staging)
      stage: (hosts: string[], pkg: { tag: string; version: string; sha256: string }): Promise<void> =>
        stageAhead({ store, notify: (h) => hub.notify(h), artifacts, config }, hosts, pkg),
      unstage: (tag: string, sha256: string): void => {
        desired.unstage(tag, sha256).catch((err: Error) => log(`noops server: unstaging package ${sha256.slice(0, 12)}: ${err.message}\n`));
      },
      hooks: balancerHooks(balancers), // drain before stop, add after healthy
      hasArtifact: (sha) => artifacts.has(sha),
      artifactPath: (sha) => artifacts.path(sha),
      workDir: sandbox.workRoot('deploy-tests'),
      sandbox,
      // after a restart, deadlines wait until every agent had time to report (it is down otherwise)
      resumeGraceMs: config.downAfterMs,
      elected: true, // only the server that leads the rollout loop steps deployments (below)
    });
    // Rollouts across servers: the leader steps, every server tells the others what it wrote (rollout-wiring.ts).
    const leadingNow = wireRollout({ rollout, leadership, bus, alone: store.kind === 'sqlite' });
    reports.on('report', (h) => rollout.onReport(h));
    // several servers share commands through the database; one server alone keeps them in memory (agent-commands.ts)
    const commands: CommandQueue = store.kind === 'postgres' ? new StoredCommandQueue(store, bus) : new AgentCommandQueue();
    const signatures = new SignatureBook(store);
    // the containers' address pool: each host's subnet, in its answer (src/network/)
    const network = new NetworkBook({ store, bus });
    closers.push(async () => network.close());
    const desired = new DesiredView({
      store,
      signing: signer.key,
      kindOf: (id) => rollout.kindOf(id),
      runtimeRefs: (m) => runtimes.refsFor(m),
      secretsFor: (tag, m) => secretBook(ctx).forInstance(tag, m), // the routes' book (made when the app is built)
      signatureOf: (job, version) => signatures.of(job, version),
      rootScopes: () => rootScopes(store),
      networkOf: (h) => (network.knownNone ? undefined : network.forDesired(h, (message) => log(`noops server: ${message}\n`))),
      // as the tracker decides (routes/swarm.ts): a package it would not split is fetched whole at once
      whole: async (sha256) => (await artifacts.size(sha256).catch(() => Number.POSITIVE_INFINITY)) < config.swarmWholeBelowBytes,
      bus,
    });
    // a new pool (on any server; every host's generation was raised with it): answers resolved anew, parked polls answered
    network.listen(() => {
      desired.forgetAll();
      hub.wakeAll();
    });
    // a root grant changed on any server: read the grants again (the view forgets its answers itself)
    bus.subscribe(CHANNELS.answers, { change: () => grantsChanged(store), resync: () => grantsChanged(store) });
    hub.listen((h) => desired.forget(h)); // a wake means the host's answer changed
    hub.pace(() => desired.idle()); // a wake of thousands: each slice after the view read the last
    // metric points in, the judge's feed, history; the history keeper runs where LOOPS.history is led
    // with --victoria-metrics: points written there too, and history read from there (victoria-wiring.ts)
    const metrics = await wireMetrics({
      store,
      bus,
      leadership,
      ...historyBackends(victoria),
      log: (line) => log(`noops server: ${line}\n`),
    });
    // the judge, nodata and alarm delivery, where LOOPS.judge is led (monitor-wiring.ts)
    const monitor = await wireMonitor({
      store,
      bus,
      leadership,
      metrics,
      reports,
      alone: store.kind === 'sqlite',
      log: (line) => log(`noops server: ${line}\n`),
    });
    const ctx: ServerContext = {
      config,
      store,
      artifacts,
      hub,
      bus,
      desired,
      reports,
      rollout,
      builds,
      tags,
      commands,
      runtimes,
      signer,
      leadership,
      metrics,
      victoria,
      balancers,
      network,
    };
    // the scheduler, where LOOPS.schedule is led; plans and stale copies on every server (schedule-wiring.ts)
    ctx.schedule = await wireSchedule({
      ctx,
      leadership,
      bus,
      downAfterMs: opts.scheduleDownAfterMs,
      alone: store.kind === 'sqlite',
      log: (line) => log(`noops server: ${line}\n`),
    });
    closers.unshift(() => ctx.schedule!.close());
    const app = await buildApp(ctx, { https: tls && { key: tls.keyPem, cert: tls.certPem } });
    await rollout.start();
    // Leads at once when no other server holds the loops (alone, it always does), before serving:
    // the first deploy after a start is stepped here as before.
    await leadership.start();
    await leadingNow();
    await namingOf(ctx).start(); // the hosts' addresses, before the first answer
    const dns = opts.dns ? await startNamingDns(opts.dns, ctx, opts.dnsOptional === true, warnings, log) : undefined;
    if (dns) closers.unshift(() => dns.close());
    await monitor.leadingNow();
    await app.listen({ host, port, backlog: LISTEN_BACKLOG });
    const addr = app.server.address();
    const boundPort = typeof addr === 'object' && addr ? addr.port : port;
    const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
    await leadership.setAddress(opts.advertise ?? url);
    let closed = false;
    // the desired manifests no row names go (store/desired-manifests.ts): every server, in statements of
    // their own; started last, so a start that fails leaves no timer behind
    const stopPruning = pruneManifestsEvery((before) => store.pruneDesiredManifests(before));
    return {
      url,
      tls,
      warnings,
      adminTokenFile: tokens.adminTokenFile,
      joinTokenFile: tokens.joinTokenFile,
      createdTokens: tokens.created,
      ...(dns && { dns }),
      ctx,
      async close() {
        if (closed) return;
        closed = true;
        await stopPruning();
        await dns?.close(); // before the store: no query reads a closed one
        await rollout.stop();
        balancers.close(); // parked balancer polls answered before the app closes
        // the judge loop (and its deliverer) ends before the leases go: a delivery's mark is a fenced write,
        // and one refused because the lease was already given up leaves the event owed to the next leader
        await monitor.close();
        await leadership.stop();
        hub.notifyAll();
        hub.close();
        commands.close();
        await app.close();
        await builds.drain();
        await reports.close();
        await metrics.close();
        await stopSharing();
        await bus.close();
        await store.close();
        for (const c of closers) await c();
      },
    };
  } catch (err) {
    await store.close();
    for (const c of closers) await c();
    throw err;
  }
}

/** The database's packages (store/package-blobs.ts) as the artifact store's shared copies. */
function packagesIn(store: Store): SharedArtifacts {
  return {
    share: (artifact, content) => store.putPackageBlob(artifact.sha256, artifact.size, content),
    fetch: async (sha256) => {
      const chunks = await store.readPackageBlob(sha256);
      return chunks && Readable.from(chunks);
    },
  };
}

/**
 * The rollout's reader, each release it reads (a start, a resume, a takeover from another server)
 * fetched into this server's artifact folder first: the deploy tests take the package by
 * `artifactPath`, which cannot fetch. A fetch that fails is logged; the deploy tests then say the
 * package is missing.
 */
function releasesHere(read: RolloutReader, artifacts: ArtifactStore, log: (line: string) => void): RolloutReader {
  return {
    ...read,
    async release(job, version) {
      const row = await read.release(job, version);
      if (row)
        await artifacts
          .has(row.sha256)
          .catch((err: Error) => log(`noops server: could not fetch the package of ${job} ${version} from the database: ${err.message}\n`));
      return row;
    },
  };
}

/** Naming's DNS server on `listen`; when `optional`, an address that cannot be bound is a warning and no DNS. */
async function startNamingDns(
  listen: string,
  ctx: ServerContext,
  optional: boolean,
  warnings: string[],
  log: (line: string) => void,
): Promise<RunningDns | undefined> {
  try {
    return await startDns(listenAddress(listen, '--dns'), namingOf(ctx).dnsSource(), log);
  } catch (err) {
    if (!optional || !(err instanceof NoopsError) || err.code !== 'NOOPS_E_DNS_LISTEN') throw err;
    warnings.push(`${err.message}: running on without DNS (docs/naming.md)`);
    return undefined;
  }
}

/** `--listen` or `--dns`: "HOST:PORT" (or ":PORT" on 127.0.0.1, or "[::1]:PORT") into its parts; NOOPS_E_INPUT naming `flag`. */
function listenAddress(listen: string, flag: string): { host: string; port: number } {
  const at = parseListen(listen, '127.0.0.1');
  if (at === undefined) throw new NoopsError('NOOPS_E_INPUT', `${flag} "${listen}" is not HOST:PORT (e.g. 127.0.0.1:7700)`);
  return at;
}
