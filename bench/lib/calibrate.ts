/**
 * A few constants of the machine a benchmark runs on, measured in about a second before the
 * benchmarks and written with every result (docs/benchmarks.md, "Reading results across
 * machines"). The development machine changes between sessions (an Intel Xeon one day, an AMD
 * EPYC virtual machine another), and the same code's figures moved 3 to 4 times with it: the
 * server's CPU for a desired-state change to 10,000 simulated agents was 4.4-5.5 s on one and
 * 17-26 s on the other (docs/benchmarks.md, session 30). What a run's figures are made of is
 * mostly these: small messages over the loopback (every request, answer and heartbeat: a
 * wake-up of the process at the other end), digests of package pieces, and V8 turning JSON into
 * objects and back. Read a goal's figure beside them before blaming or crediting the code.
 */
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { bestDigest, digestOf } from '../../src/swarm/digests.js';

export interface Calibration {
  /**
   * CPU time (µs) one small message over TCP on 127.0.0.1 costs, the sender's and the receiver's
   * together: two processes pass one byte back and forth, and their CPU time is divided by the
   * messages. Most of it is the kernel's, waking the other process.
   */
  loopbackMessageUs: number;
  /** BLAKE3 of 4 MiB buffers on one core (GB/s, 10^9 bytes); null where its native module does not load */
  blake3GBps: number | null;
  /** sha256 of 4 MiB buffers on one core (GB/s) */
  sha256GBps: number;
  /** one JSON.stringify and JSON.parse of an agent's report with one process (µs): V8's speed at what a server does most */
  jsonRoundTripUs: number;
}

export interface CalibrateOptions {
  /** round trips measured (after a warm-up of a tenth as many); default 4,000 */
  roundTrips?: number;
  /** how long each digest is measured (ms); default 250 */
  digestMs?: number;
  /** JSON round trips measured; default 20,000 */
  jsonRounds?: number;
}

/** The other end of the ping-pong: echoes each byte; from the byte `m` on, counts its CPU and prints it when the connection ends. */
const ECHO = `
const s = require('node:net').connect(Number(process.argv[1]), '127.0.0.1');
s.setNoDelay(true);
let c0;
s.on('data', (d) => { if (c0 === undefined && d.includes(109)) c0 = process.cpuUsage(); s.write(d); });
s.on('end', () => { const u = process.cpuUsage(c0); process.stdout.write(JSON.stringify(u), () => s.end()); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

/** Measures the machine's constants (about a second with the defaults). */
export async function calibrate(opts: CalibrateOptions = {}): Promise<Calibration> {
  return {
    loopbackMessageUs: await loopbackMessageUs(opts.roundTrips ?? 4000),
    blake3GBps: bestDigest() === 'blake3' ? digestGBps('blake3', opts.digestMs ?? 250) : null,
    sha256GBps: digestGBps('sha256', opts.digestMs ?? 250),
    jsonRoundTripUs: jsonRoundTripUs(opts.jsonRounds ?? 20_000),
  };
}

/** One-line summary, as `npm run bench` prints it. */
export function describeCalibration(c: Calibration): string {
  const blake3 = c.blake3GBps === null ? 'BLAKE3 not loaded' : `BLAKE3 ${c.blake3GBps} GB/s`;
  return `a loopback message ${c.loopbackMessageUs} µs of CPU, ${blake3}, sha256 ${c.sha256GBps} GB/s, a report's JSON round trip ${c.jsonRoundTripUs} µs`;
}

async function loopbackMessageUs(roundTrips: number): Promise<number> {
  const warm = Math.max(1, Math.floor(roundTrips / 10));
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const child = spawn(process.execPath, ['-e', ECHO, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const socket = await new Promise<Socket>((resolve, reject) => {
      server.once('connection', resolve);
      child.once('exit', (code) => reject(new Error(`the echo process exited (${code}) before it connected`)));
    });
    socket.setNoDelay(true);
    const parentCpu = await new Promise<NodeJS.CpuUsage>((resolve, reject) => {
      let n = 0;
      let c0: NodeJS.CpuUsage | undefined;
      socket.on('error', reject);
      socket.on('data', () => {
        n++;
        if (n === warm) {
          c0 = process.cpuUsage();
          socket.write('m'); // the echo counts from here
        } else if (n === warm + roundTrips) resolve(process.cpuUsage(c0));
        else socket.write('x');
      });
      socket.write('x');
    });
    socket.end();
    const code = await exited;
    if (code !== 0) throw new Error(`the echo process exited with ${code}`);
    const childCpu = JSON.parse(out) as NodeJS.CpuUsage;
    const us = parentCpu.user + parentCpu.system + childCpu.user + childCpu.system;
    return round(us / (2 * roundTrips), 1);
  } finally {
    child.kill();
    server.close();
  }
}

function digestGBps(digest: 'blake3' | 'sha256', ms: number): number {
  const buf = Buffer.alloc(4 * 1024 * 1024, 7);
  digestOf(digest, buf); // loads the module, warms up
  let bytes = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    digestOf(digest, buf);
    bytes += buf.length;
  }
  return round(bytes / ((performance.now() - t0) * 1e6), 2);
}

function jsonRoundTripUs(rounds: number): number {
  const report = {
    processes: [
      {
        tag: 'cop.acme_owt.shop_pdl.web_service.api',
        process: 'app',
        version: '3f2a9c1d0',
        state: 'up',
        pid: 12345,
        port: 8080,
        restarts: 0,
        startedAt: '2026-12-07T10:00:00.000Z',
        error: null,
      },
    ],
    failures: [],
    generation: 42,
    events: [],
    crons: [],
    order: { boot: 'b6f1c2', seq: 17 },
  };
  let keep = 0;
  for (let i = 0; i < rounds / 10; i++) keep += (JSON.parse(JSON.stringify(report)) as typeof report).generation; // warm-up
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) keep += (JSON.parse(JSON.stringify(report)) as typeof report).generation;
  const us = ((performance.now() - t0) * 1000) / rounds;
  if (keep < 0) throw new Error('unreachable'); // keeps the loop's work observable
  return round(us, 2);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
