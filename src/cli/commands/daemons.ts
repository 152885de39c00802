/** The long-running commands: `noops server`, `noops agent`, and `noops up` (both in one). */
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { hostname, homedir } from 'node:os';
import { join, resolve } from 'node:path';
// The server and the agent are imported when their command runs: an agent process then never
// loads the server's modules (fastify, the store, the build), which would double its memory.
import type { RunningServer, ServerOptions } from '../../server/index.js';
import { NoopsError } from '../../errors/index.js';
import { DEFAULT_DATA_DIR, DEFAULT_SERVER, serverUrls } from '../config.js';
import { agentTrust, readCa, rememberAgentCa, serverTlsOptions, tlsAnnouncement, type TlsFlags } from '../tls-flags.js';
import { parseLabels } from './common.js';
import { parseCapacityOverride } from '../../api/index.js';

/** The default agent root: the system's place for root, the home folder for everyone else. */
/**
 * Where `noops up` keeps its local agent: beside the data folder (`.noops` -> `.noops-agent`),
 * not in it. The data folder is the server's alone (0700: tokens, keys, the database), and the
 * processes the agent runs as its unprivileged user must walk through to their releases. A root
 * that an earlier `noops up` made inside the data folder is kept (what runs there is adopted);
 * the agent then warns that its processes cannot reach it as another user.
 */
export function localAgentRoot(dataDir: string): string {
  const old = join(resolve(dataDir), 'agent');
  return existsSync(join(old, 'state.json')) ? old : `${resolve(dataDir)}-agent`;
}

export function defaultAgentRoot(): string {
  return process.getuid?.() === 0 ? '/var/lib/noops/agent' : join(homedir(), '.noops', 'agent');
}

/** `--metrics-every` and `--push-listen`, the same on `agent` and `up` (docs/monitoring.md#metrics-from-the-agents). */
function withMetricsFlags(c: Command): Command {
  return c
    .option(
      '--metrics-every <duration>',
      "how often the host and instance metrics are collected: 60s, 1m, 1000ms (the points' step)",
      '60s',
    )
    .option(
      '--push-listen <addr|off>',
      "where Open-Falcon's push API (POST /v1/push) listens: HOST:PORT (port 0 for a free one) or off",
      '127.0.0.1:1988',
    );
}

/** The agent's options of the metrics flags, checked before anything starts. */
async function metricsOptions(o: { metricsEvery: string; pushListen: string }): Promise<{ metricsEveryMs: number; pushListen?: string }> {
  const { parseMetricsEvery, pushListenFlag } = await import('../../agent/index.js');
  return { metricsEveryMs: parseMetricsEvery(o.metricsEvery), pushListen: pushListenFlag(o.pushListen) };
}

/** Resolves when SIGINT or SIGTERM arrives. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => resolve(sig);
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}

interface ServerFlags extends TlsFlags {
  data: string;
  listen: string;
  db?: string;
  heartbeat?: string;
  buildSandbox?: string;
  serverId?: string;
  leaseMs?: string;
  /** the scheduler's down_after (docs/scheduler.md, "Migration") */
  downAfter?: string;
  advertise?: string;
  victoriaMetrics?: string;
  /** naming's DNS address, or off (docs/naming.md) */
  dns?: string;
  /** the tracker sends peers to any --peer-url an agent gives (docs/packages-p2p.md) */
  trustPeerUrls?: boolean;
}

/** Where `noops up` serves naming's DNS unless told otherwise (Consul's DNS port). */
const UP_DNS = '127.0.0.1:8600';

/** `--build-sandbox`, the same on `server` and `up`. */
const BUILD_SANDBOX_FLAG = [
  '--build-sandbox <mode>',
  "auto: builds and deploy tests run sandboxed (a throwaway container per step where the Docker Engine answers, else bubblewrap with an own uid), refused when neither can work; container: containers only; none: as the server's own user, able to read its tokens",
  'auto',
] as const;

function serverOptions(o: ServerFlags): ServerOptions {
  const heartbeatMs = o.heartbeat === undefined ? undefined : Number(o.heartbeat);
  if (heartbeatMs !== undefined && !(Number.isInteger(heartbeatMs) && heartbeatMs >= 100)) {
    throw new NoopsError('NOOPS_E_INPUT', `--heartbeat-ms "${o.heartbeat}" must be a whole number of milliseconds, at least 100`);
  }
  if (o.buildSandbox !== undefined && !['auto', 'container', 'none'].includes(o.buildSandbox)) {
    throw new NoopsError('NOOPS_E_INPUT', `--build-sandbox "${o.buildSandbox}" must be auto, container or none`);
  }
  const leaseMs = o.leaseMs === undefined ? undefined : Number(o.leaseMs);
  if (leaseMs !== undefined && !(Number.isInteger(leaseMs) && leaseMs >= 200 && leaseMs <= 600_000)) {
    throw new NoopsError('NOOPS_E_INPUT', `--lease-ms "${o.leaseMs}" must be a whole number of milliseconds from 200 to 600000`);
  }
  const down = o.downAfter === undefined ? undefined : /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(o.downAfter);
  if (down === null || (down && Number(down[1]) * (down[2] === 'ms' ? 1 : 1000) < 1000)) {
    throw new NoopsError('NOOPS_E_INPUT', `--down-after "${o.downAfter}" must be a time of at least 1 s, e.g. 10s or 1500ms`);
  }
  if (o.serverId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(o.serverId)) {
    throw new NoopsError('NOOPS_E_INPUT', `--server-id "${o.serverId}" must be 1 to 63 letters, digits, ".", "_" or "-"`);
  }
  if (o.advertise !== undefined && !/^https?:\/\/[^\s/]+\/?$/.test(o.advertise)) {
    throw new NoopsError('NOOPS_E_INPUT', `--advertise "${o.advertise}" must be a URL such as https://noops-2.example:7700`);
  }
  return {
    dataDir: o.data,
    listen: o.listen,
    db: o.db,
    heartbeatMs,
    leaseMs,
    ...(down && { scheduleDownAfterMs: Math.round(Number(down[1]) * (down[2] === 'ms' ? 1 : 1000)) }),
    serverId: o.serverId,
    advertise: o.advertise,
    victoriaMetrics: o.victoriaMetrics,
    buildSandbox: o.buildSandbox as ServerOptions['buildSandbox'], // checked above
    tls: serverTlsOptions(o),
    insecure: o.insecure,
    ...(o.dns !== undefined && o.dns !== 'off' && { dns: o.dns }),
    ...(o.trustPeerUrls === true && { trustPeerUrls: true }),
  };
}

/** The TLS flags `noops server` and `noops up` share (docs/tls.md). */
function withTlsFlags(c: Command): Command {
  return c
    .option('--tls <mode>', 'serve https with a local CA and certificate made in DATA/tls/: --tls auto')
    .option('--tls-cert <file>', 'serve https with this certificate (PEM, with its chain; needs --tls-key)')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option(
      '--tls-san <name>',
      'one more name or address for the --tls auto certificate (repeat, or a,b)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--insecure', 'serve plain HTTP on an address other hosts reach (refused without it)');
}

function announce(server: RunningServer): void {
  for (const w of server.warnings) process.stderr.write(`noops server: warning: ${w}\n`);
  const lines = [
    `noops server listening on ${server.url}`,
    ...tlsAnnouncement(server),
    `  admin token: ${server.adminTokenFile}${server.createdTokens ? ' (new)' : ''}`,
    `  join token:  ${server.joinTokenFile}`,
    ...(server.dns ? [`  DNS:         ${server.dns.host}:${server.dns.port} (names under noops., docs/naming.md)`] : []),
    // The token itself is never printed (logs are kept); the command makes the sign-in link.
    `  web console: ${server.url}/  (sign in with the admin token, or open "${server.url}/?token=$(cat ${server.adminTokenFile})")`,
  ];
  // One write: whoever reads "listening on" (a script, a test's harness) has the whole announcement
  // with it; through a pipe, separate writes could reach the reader one at a time.
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function registerDaemons(p: Command): void {
  withTlsFlags(p.command('server'))
    .description('run the control plane: API, store, builds, rollouts')
    .option('--data <dir>', 'data folder (database, packages, tokens)', DEFAULT_DATA_DIR)
    .option('--listen <host:port>', 'address to serve the API on', '127.0.0.1:7700')
    .option('--db <url>', 'postgres://USER:PASS@HOST/DB (default: SQLite in the data folder)')
    .option('--heartbeat-ms <ms>', 'how often agents report (default 5000)')
    .option('--server-id <id>', "this server's name among the servers of its database (default: host name and a random part)")
    .option('--lease-ms <ms>', "how long a control loop's lease lasts: a dead leader's loops move within about that (default 5000)")
    .option('--advertise <url>', 'the URL other servers and `noops servers` show for this one (default: the URL it listens on)')
    .option('--down-after <time>', 'the scheduler moves the instances of a host unheard this long elsewhere (default 10s)')
    .option(
      '--victoria-metrics <url>',
      'write metric history to VictoriaMetrics too and chart from it (its base URL, e.g. http://127.0.0.1:8428)',
    )
    .option('--dns <host:port>', "serve naming's DNS (A and SRV under noops.) on this address, UDP and TCP (default: none)")
    .option(
      '--trust-peer-urls',
      "send agents' peers to any --peer-url an agent gives; without it, only to the address this server sees the agent at or the --peer-url it joined with (docs/packages-p2p.md)",
    )
    .option(...BUILD_SANDBOX_FLAG)
    .action(async (o: ServerFlags & { heartbeatMs?: string }) => {
      const { startServer } = await import('../../server/index.js');
      const server = await startServer(serverOptions({ ...o, heartbeat: o.heartbeatMs }));
      announce(server);
      await untilSignal();
      await server.close();
    });

  withMetricsFlags(p.command('agent'))
    .description('run the host daemon: join the server, run what it is told, report')
    .option('--join-token <token>', "the server's join token (env NOOPS_JOIN_TOKEN)")
    .option('--join-token-file <file>', "read the join token from this file (e.g. the server's join.token)")
    .option('--root <dir>', 'where releases, logs and state live (default /var/lib/noops/agent as root)')
    .option('--name <name>', "this host's name in noops", hostname())
    .option('--labels <k=v,...>', 'labels of this host, e.g. rack=r1,zone=bj')
    .option(
      '--capacity <k=v,...>',
      'what this host offers the scheduler instead of what the agent measures, e.g. cpu=4,memory=8G,disk=100G (and ports=N)',
    )
    .option(
      '--peer-listen <addr|off>',
      'where this agent serves package pieces to its peers: HOST:PORT (port 0 for a free one) or off',
      '0.0.0.0:7701',
    )
    .option(
      '--peer-url <url>',
      'the URL peers reach this agent at (default: the address the server sees it at, with the --peer-listen port); at another address, the server takes it only as given when the agent joined, or with `noops server --trust-peer-urls`',
    )
    .option('--watches <file>', "the host's standalone watches (default ROOT/watches.yaml)")
    .option('--standalone', 'run only the standalone watches, without a server')
    .option(
      '--user <name>',
      'the unprivileged user processes run as when noops.yaml names none, created if missing (default noops; only an agent running as root switches users)',
    )
    .addHelpText(
      'after',
      '\nAn https:// server is verified with the global --ca FILE (env NOOPS_CA): the CA `noops server` prints.\nThe agent remembers it in ROOT/server-ca.pem once joined; later starts need no --ca.',
    )
    .action(
      async (
        o: {
          joinToken?: string;
          joinTokenFile?: string;
          root?: string;
          name: string;
          labels?: string;
          capacity?: string;
          watches?: string;
          standalone?: boolean;
          user?: string;
          metricsEvery: string;
          pushListen: string;
          peerListen: string;
          peerUrl?: string;
        },
        cmd: Command,
      ) => {
        const metrics = await metricsOptions(o);
        const { peerListenFlag } = await import('../../agent/index.js');
        const peerListen = peerListenFlag(o.peerListen);
        const capacity = o.capacity === undefined ? undefined : parseCapacityOverride(o.capacity);
        let server: string | undefined;
        let joinToken: string | undefined;
        const root = resolve(o.root ?? defaultAgentRoot());
        let trust: ReturnType<typeof agentTrust> = { given: false };
        if (!o.standalone) {
          trust = agentTrust(root, cmd.optsWithGlobals<{ ca?: string }>().ca ?? process.env.NOOPS_CA);
          server = serverUrls(cmd.optsWithGlobals<{ server?: string }>()).join(',');
          joinToken = o.joinToken ?? process.env.NOOPS_JOIN_TOKEN;
          if (!joinToken && o.joinTokenFile) joinToken = readFileSync(o.joinTokenFile, 'utf8').trim();
          if (!joinToken)
            throw new NoopsError(
              'NOOPS_E_UNAUTHORIZED',
              "the agent needs the server's join token: --join-token TOKEN or --join-token-file FILE (or --standalone)",
            );
        }
        const { Agent, DEFAULT_PROCESS_USER } = await import('../../agent/index.js');
        const nuked = new Promise<void>((done) => {
          const agent = new Agent({
            server,
            joinToken,
            root,
            name: o.name,
            labels: parseLabels(o.labels),
            pinned: trust.trust,
            watchesFile: o.watches === undefined ? undefined : resolve(o.watches),
            onNuke: done,
            user: o.user ?? DEFAULT_PROCESS_USER,
            ...metrics,
            ...(capacity && { capacity }),
            ...(peerListen !== undefined && { peerListen }),
            ...(o.peerUrl !== undefined && { peerUrl: o.peerUrl }),
          });
          void (async () => {
            await agent.start();
            // Joined (or known already): the CA it was told to trust is kept with its identity.
            if (trust.given && trust.trust?.ca) rememberAgentCa(root, trust.trust.ca);
            process.stdout.write(`noops agent ${agent.name} running; root ${agent.root}; ${server ? `server ${server}` : 'standalone'}\n`);
            await untilSignal();
            await agent.stop();
            done();
          })().catch((err: unknown) => {
            process.stderr.write(
              `noops: ${err instanceof NoopsError ? `${err.message}\n  (${err.code}) ${err.hint}` : (err as Error).stack}\n`,
            );
            process.exit(1);
          });
        });
        await nuked;
        process.exit(0);
      },
    );

  withMetricsFlags(withTlsFlags(p.command('up')))
    .description('all in one machine: a server on SQLite plus one local agent (like `nomad agent -dev`)')
    .option('--data <dir>', 'data folder', DEFAULT_DATA_DIR)
    .option('--listen <host:port>', 'address to serve the API on', '127.0.0.1:7700')
    .option('--name <name>', "the local agent's host name", hostname())
    .option('--dns <host:port>', "naming's DNS address, or off; a taken port is a warning", UP_DNS)
    .option(...BUILD_SANDBOX_FLAG)
    .option('--user <name>', 'the unprivileged user processes run as when noops.yaml names none (default noops; as root only)')
    .action(async (o: ServerFlags & { name: string; user?: string; metricsEvery: string; pushListen: string }, cmd: Command) => {
      const metrics = await metricsOptions(o);
      const [{ startServer }, { Agent, DEFAULT_PROCESS_USER }] = await Promise.all([
        import('../../server/index.js'),
        import('../../agent/index.js'),
      ]);
      const server = await startServer({ ...serverOptions(o), dnsOptional: true });
      announce(server);
      // The local agent trusts the local CA (--tls auto), or the --ca given for a certificate of one's own.
      const caFile = server.tls?.caFile ?? cmd.optsWithGlobals<{ ca?: string }>().ca ?? process.env.NOOPS_CA;
      const agent = new Agent({
        server: server.url,
        joinToken: readFileSync(server.joinTokenFile, 'utf8').trim(),
        pinned: caFile ? { ca: readCa(caFile) } : undefined,
        root: localAgentRoot(o.data),
        name: o.name,
        labels: { role: 'local' },
        user: o.user ?? DEFAULT_PROCESS_USER,
        ...metrics,
      });
      await agent.start();
      process.stdout.write(`  local agent: ${agent.name} (root ${agent.root})\n\n`);
      process.stdout.write(`Next, in another terminal in this folder:\n`);
      // the CLI finds the server at DEFAULT_SERVER unless told: say so when --listen moved it
      if (server.url.replace(/\/+$/, '') !== DEFAULT_SERVER) process.stdout.write(`  export NOOPS_SERVER=${server.url}\n`);
      process.stdout.write(`  ./bin/noops hosts\n`);
      process.stdout.write(`  ./bin/noops build -u REPO -t cop.acme_owt.web_pdl.shop_service.api_job.web -v COMMIT\n`);
      process.stdout.write(
        `  ./bin/noops cluster set -t cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.dev --hosts ${agent.name}\n`,
      );
      process.stdout.write(`  ./bin/noops deploy -t cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.dev -v VERSION\n`);
      process.stdout.write(`Stop with Ctrl-C (the deployed processes keep running; they are adopted on the next start).\n`);
      await untilSignal();
      await agent.stop();
      await server.close();
    });
}
