/**
 * A fleet worker process: hosts a share of the simulated agents (the real `Agent`, with a
 * simulated supervisor and releases kept in memory), times their heartbeats, and tells the
 * parent when every one of them has received a release and reported it up.
 * Started by fleet.ts with an IPC channel; see protocol.ts for the messages.
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Agent, keepSpareBytes, SPARE_BYTES } from './agent-code.js';
import type { AgentReport, DesiredState } from '../../src/api/index.js';
import { mapLimit } from '../lib/limit.js';
import { leanFetch, sizePool } from './lean-fetch.js';
import type { FromWorker, ToWorker, WatchStatus, WindowSamples } from './protocol.js';
import { MemoryReleases, SharedPackages, type DownloadMeter } from './sim-releases.js';
import { SimSupervisor } from './sim-supervisor.js';

/** Joins in flight at once: enough to join 10,000 agents in seconds, few enough not to
 * queue thousands of requests on the server at one instant. */
const JOIN_CONCURRENCY = 32;

/**
 * Racks the simulated hosts are spread over (label `rack`, by the number in their name): the
 * tracker prefers peers of the same rack, as on a real fleet; 20 racks of 50 hosts at N = 1,000.
 */
const RACKS = 20;
/**
 * Packages peer to peer (docs/packages-p2p.md): each simulated agent serves its pieces on a port
 * of its own; NOOPS_BENCH_FLEET_P2P=0 makes them fetch every package whole from the server, as
 * before the tracker, to compare.
 */
const P2P = process.env.NOOPS_BENCH_FLEET_P2P !== '0';

const agents: InstanceType<typeof Agent>[] = [];
const meter: DownloadMeter = { bytes: 0, downloads: 0 };
/** the bytes of packages fetched in pieces, once for every agent of this process (sim-releases.ts) */
const packages = new SharedPackages();
let watch:
  | {
      tag: string;
      version: string;
      received: Map<string, number>;
      up: Map<string, number>;
      /** what each agent last reported of the tag, until it reported it up */
      last: Map<string, string>;
      bytes0: number;
      count0: number;
      peers0: number;
      seed0: number;
      signed0: number;
      keyed0: number;
    }
  | undefined;

/**
 * Bytes the agents of this process fetched in pieces from peers and from the server, so far; and
 * the tickets their peer servers took: signatures checked, keyed tickets checked.
 */
function swarmBytes(): { peers: number; seed: number; signed: number; keyed: number } {
  let peers = 0;
  let seed = 0;
  let signed = 0;
  let keyed = 0;
  for (const a of agents) {
    peers += a.swarm?.counts.fromPeers ?? 0;
    seed += a.swarm?.counts.fromSeed ?? 0;
    signed += a.swarm?.peers.counts.signatureChecks ?? 0;
    keyed += a.swarm?.peers.counts.keyed ?? 0;
  }
  return { peers, seed, signed, keyed };
}
let win = newWindow();
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

function send(msg: FromWorker): void {
  process.send!(msg);
}

function newWindow(): { t0: number; cpu0: NodeJS.CpuUsage; report: number[]; reportErrors: number } {
  return { t0: performance.now(), cpu0: process.cpuUsage(), report: [], reportErrors: 0 };
}

// The agents' HTTP goes through a lean fetch (see lean-fetch.ts); NOOPS_BENCH_FETCH=node keeps
// Node's own, to compare. Heartbeat latency is timed as each agent sees it: from the call to
// the response.
const realFetch: typeof fetch = process.env.NOOPS_BENCH_FETCH === 'node' ? globalThis.fetch : leanFetch;
globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  if (!url.endsWith('/agent/report')) return realFetch(input, init);
  const t0 = performance.now();
  try {
    const res = await realFetch(input, init);
    if (res.ok) win.report.push(performance.now() - t0);
    else win.reportErrors++;
    return res;
  } catch (err) {
    win.reportErrors++;
    throw err;
  }
};

function observe(name: string): { desired(ds: DesiredState): void; reported(r: AgentReport): void } {
  return {
    desired(ds) {
      const w = watch;
      if (!w || w.received.has(name)) return;
      if (ds.instances.some((i) => i.tag === w.tag && i.version === w.version)) {
        w.received.set(name, Date.now());
        check();
      }
    },
    reported(r) {
      const w = watch;
      if (!w || w.up.has(name)) return;
      const ps = r.processes.filter((p) => p.tag === w.tag);
      w.last.set(name, ps.map((p) => `${p.process}:${p.version}:${p.state}`).join(',') || 'nothing');
      if (ps.length > 0 && ps.every((p) => p.version === w.version && p.state === 'up')) {
        w.up.set(name, Date.now());
        check();
      }
    },
  };
}

function check(): void {
  const w = watch;
  if (!w || w.received.size < agents.length || w.up.size < agents.length) return;
  watch = undefined;
  send({
    type: 'reached',
    version: w.version,
    received: [...w.received.values()],
    up: [...w.up.values()],
    downloads: {
      bytes: meter.bytes - w.bytes0,
      count: meter.downloads - w.count0,
      fromPeers: swarmBytes().peers - w.peers0,
      fromSeed: swarmBytes().seed - w.seed0,
      signedTickets: swarmBytes().signed - w.signed0,
      keyedTickets: swarmBytes().keyed - w.keyed0,
    },
  });
}

async function start(msg: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  sizePool(msg.names.length); // connections as its agents would hold them (lean-fetch.ts)
  // spare piece buffers as its agents would keep them, each on its own host (peer-fetch.ts): with
  // the one process's 256 MiB shared by hundreds, nearly half the pieces were new 4 MiB buffers
  keepSpareBytes(msg.names.length * SPARE_BYTES);
  const log = createWriteStream(msg.logFile, { flags: 'a' });
  const made = msg.names.map(
    (name) =>
      new Agent({
        server: msg.server,
        joinToken: msg.joinToken,
        root: join(msg.rootBase, name),
        name,
        labels: { sim: 'yes', rack: `r${Number(/\d+/.exec(name)?.[0] ?? 0) % RACKS}` },
        log: (line) => log.write(`${new Date().toISOString()} ${name}: ${line}\n`),
        host: { supervisor: new SimSupervisor(), releases: new MemoryReleases(meter, packages) },
        ...(P2P ? { peerListen: '127.0.0.1:0' } : { pieces: false }),
        ctl: false,
        observer: observe(name),
      }),
  );
  const results = await mapLimit(made, JOIN_CONCURRENCY, (a) => a.start());
  const failed: string[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') agents.push(made[i]!);
    else failed.push(`${made[i]!.name}: ${(r.reason as Error).message}`);
  });
  send({ type: 'started', joined: agents.length, failed: failed.slice(0, 10) });
}

/** How far the watch went (sent when the parent gives up waiting). */
function status(): WatchStatus {
  const w = watch;
  const names = agents.map((a) => a.name);
  if (!w) return { agents: names.length, received: names.length, up: names.length, notReceived: [], notUp: [] };
  const SAMPLE = 5;
  return {
    agents: names.length,
    received: w.received.size,
    up: w.up.size,
    notReceived: names.filter((n) => !w.received.has(n)).slice(0, SAMPLE),
    notUp: names
      .filter((n) => w.received.has(n) && !w.up.has(n))
      .slice(0, SAMPLE)
      .map((name) => ({ name, last: w.last.get(name) ?? 'no report since the watch began' })),
  };
}

function collect(): WindowSamples {
  const cpu = process.cpuUsage(win.cpu0);
  const out: WindowSamples = {
    ms: performance.now() - win.t0,
    report: win.report,
    reportErrors: win.reportErrors,
    cpuMs: (cpu.user + cpu.system) / 1000,
    loopDelayP99Ms: loop.percentile(99) / 1e6,
    loopDelayMaxMs: loop.max / 1e6,
  };
  win = newWindow();
  loop.reset();
  return out;
}

process.on('message', (msg: ToWorker) => {
  void (async () => {
    switch (msg.type) {
      case 'start':
        await start(msg);
        break;
      case 'window':
        win = newWindow();
        loop.reset();
        send({ type: 'window' });
        break;
      case 'collect':
        send({ type: 'samples', samples: collect() });
        break;
      case 'status':
        send({ type: 'status', status: status() });
        break;
      case 'watch':
        watch = {
          tag: msg.tag,
          version: msg.version,
          received: new Map(),
          up: new Map(),
          last: new Map(),
          bytes0: meter.bytes,
          count0: meter.downloads,
          peers0: swarmBytes().peers,
          seed0: swarmBytes().seed,
          signed0: swarmBytes().signed,
          keyed0: swarmBytes().keyed,
        };
        send({ type: 'watching' });
        check();
        break;
      case 'stop':
        await Promise.all(agents.map((a) => a.stop()));
        send({ type: 'stopped' });
        process.disconnect();
        // Exit on our own (not killed): a CPU profile, when asked for, is written on exit.
        setTimeout(() => process.exit(0), 100).unref();
        break;
    }
  })().catch((err: Error) => send({ type: 'error', message: err.stack ?? err.message }));
});
