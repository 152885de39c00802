/**
 * A few constants of the machine a benchmark runs on, measured in about a second before each
 * benchmark and written with its results (docs/benchmarks.md, "Reading results across machines").
 * The development machine changes between sessions (an Intel Xeon one day, an AMD EPYC virtual
 * machine another), and the same code's figures moved three to four times with it: the server's
 * CPU for a desired-state change to 10,000 simulated agents was 4.4-5.7 s on one and 15-20 s on
 * the other (docs/benchmarks.md, session 30). What a run's figures are made of is mostly these:
 * small messages over the loopback (every request, answer and heartbeat: a wake-up of the process
 * at the other end), digests of package pieces, and V8 turning JSON into objects and back. Read a
 * goal's figure beside them before blaming or crediting the code.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { bestDigest, digestOf } from '../../src/swarm/index.js';
import { round } from './stats.js';

export interface Calibration {
  /**
   * CPU time (µs) one small message over TCP on 127.0.0.1 costs, the sender's and the receiver's
   * together: two processes pass one byte back and forth, and their CPU time is divided by the
   * messages. Most of it is the kernel's, waking the process at the other end.
   */
  loopbackMessageUs: number;
  /** BLAKE3 of 4 MiB buffers, per second of one core's CPU (GB/s, 10^9 bytes); null where its native module does not load */
  blake3GBps: number | null;
  /** sha256 of 4 MiB buffers, per second of one core's CPU (GB/s) */
  sha256GBps: number;
  /** CPU time (µs) of one JSON.stringify and JSON.parse of an agent's report with one process: V8's speed at what a server does most */
  jsonRoundTripUs: number;
}

export interface CalibrateOptions {
  /** round trips measured (after a warm-up of a tenth as many); default ROUND_TRIPS */
  roundTrips?: number;
  /** how long each digest is measured (ms of CPU); default DIGEST_MS */
  digestMs?: number;
  /** JSON round trips measured; default JSON_ROUNDS */
  jsonRounds?: number;
  /** the echo script (tests: one that fails); default bench/lib/echo.mjs */
  echo?: string;
}

/** Round trips of the ping-pong: 8,000 messages, about 0.4 s here; fewer made the figure move by a tenth between runs. */
export const ROUND_TRIPS = 4000;
/** CPU time each digest is measured for: about 60 pieces of 4 MiB for BLAKE3 here. */
export const DIGEST_MS = 250;
/** JSON round trips: about 0.1 s here. */
export const JSON_ROUNDS = 20_000;
/** The buffer digested: a package piece's size (src/swarm/pieces.ts PIECE_SIZE_MIN). */
const DIGEST_BYTES = 4 * 1024 * 1024;
/** The ping-pong gives up after this (the echo process stuck or gone), so a run never hangs on it. */
export const CALIBRATE_TIMEOUT_MS = 10_000;
const ECHO = new URL('./echo.mjs', import.meta.url).pathname;

/**
 * Measures the machine's constants (about a second with the defaults).
 *
 * @example
 *   const c = await calibrate(); // { loopbackMessageUs: 47.2, blake3GBps: 3.44, sha256GBps: 1.42, jsonRoundTripUs: 4.29 }
 */
export async function calibrate(opts: CalibrateOptions = {}): Promise<Calibration> {
  const roundTrips = opts.roundTrips ?? ROUND_TRIPS;
  const digestMs = opts.digestMs ?? DIGEST_MS;
  const jsonRounds = opts.jsonRounds ?? JSON_ROUNDS;
  for (const [name, v] of Object.entries({ roundTrips, digestMs, jsonRounds }))
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`calibrate: ${name} must be a whole number of at least 1, not ${v}`);
  return {
    loopbackMessageUs: await loopbackMessageUs(roundTrips, opts.echo ?? ECHO),
    blake3GBps: bestDigest() === 'blake3' ? digestGBps('blake3', digestMs) : null,
    sha256GBps: digestGBps('sha256', digestMs),
    jsonRoundTripUs: jsonRoundTripUs(jsonRounds),
  };
}

/**
 * One line, as `npm run bench` prints it.
 *
 * @example
 *   describeCalibration(c); // 'a loopback message 47.2 µs of CPU, BLAKE3 3.44 GB/s, sha256 1.42 GB/s, a report\'s JSON round trip 4.29 µs'
 */
export function describeCalibration(c: Calibration): string {
  const blake3 = c.blake3GBps === null ? 'BLAKE3 not loaded' : `BLAKE3 ${c.blake3GBps} GB/s`;
  return `a loopback message ${c.loopbackMessageUs} µs of CPU, ${blake3}, sha256 ${c.sha256GBps} GB/s, a report's JSON round trip ${c.jsonRoundTripUs} µs`;
}

/**
 * CPU per message of a ping-pong of `roundTrips` round trips: `parent` and `child` are each end's
 * CPU time over the same messages (µs), which are two for each round trip.
 *
 * @example perMessageUs({ user: 300, system: 100 }, { user: 200, system: 200 }, 4) // 100
 */
export function perMessageUs(parent: NodeJS.CpuUsage, child: NodeJS.CpuUsage, roundTrips: number): number {
  return round((parent.user + parent.system + child.user + child.system) / (2 * roundTrips), 1);
}

async function loopbackMessageUs(roundTrips: number, echo: string): Promise<number> {
  const warm = Math.max(1, Math.floor(roundTrips / 10));
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening'); // rejects on the server's 'error'
  const port = (server.address() as { port: number }).port;
  const child = spawn(process.execPath, [echo, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // 'close': its output read to the end, not only the process gone ('exit' may come first)
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  let socket: Socket | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const parentCpu = await new Promise<NodeJS.CpuUsage>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the echo process did not answer ${roundTrips} round trips in ${CALIBRATE_TIMEOUT_MS / 1000} s`)),
        CALIBRATE_TIMEOUT_MS,
      );
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the echo process exited (${code}) in the middle of the ping-pong`)));
      server.once('connection', (s: Socket) => {
        socket = s;
        s.setNoDelay(true);
        let n = 0;
        let since: NodeJS.CpuUsage | undefined;
        s.on('error', reject);
        s.once('close', () => reject(new Error(`the echo process closed its connection after ${n} round trips`)));
        s.on('data', () => {
          n++;
          if (n === warm) {
            since = process.cpuUsage();
            s.write('m'); // the echo counts from here
          } else if (n === warm + roundTrips) resolve(process.cpuUsage(since));
          else s.write('x');
        });
        s.write('x');
      });
    });
    socket!.end();
    const code = await Promise.race([
      closed,
      new Promise<'late'>((r) => {
        timer = setTimeout(r, CALIBRATE_TIMEOUT_MS, 'late');
      }),
    ]);
    if (code !== 0) throw new Error(`the echo process ended with ${code} and printed ${JSON.stringify(out.slice(0, 200))}`);
    return perMessageUs(parentCpu, JSON.parse(out) as NodeJS.CpuUsage, roundTrips);
  } finally {
    clearTimeout(timer);
    socket?.destroy();
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await closed; // its handle gone (a killed process closes at once)
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** GB/s of `digest` over a piece-sized buffer, per second of this thread's CPU. */
function digestGBps(digest: 'blake3' | 'sha256', ms: number): number {
  const buf = Buffer.alloc(DIGEST_BYTES, 7);
  digestOf(digest, buf); // loads the module, warms up
  let bytes = 0;
  const c0 = process.cpuUsage();
  let usedUs = 0;
  while (usedUs < ms * 1000) {
    digestOf(digest, buf);
    bytes += buf.length;
    const c = process.cpuUsage(c0);
    usedUs = c.user + c.system;
  }
  return round(bytes / (usedUs * 1000), 2);
}

/** µs of CPU for one JSON round trip of a small report. */
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
  for (let i = 0; i < Math.ceil(rounds / 10); i++) keep += (JSON.parse(JSON.stringify(report)) as typeof report).generation; // warm-up
  const c0 = process.cpuUsage();
  for (let i = 0; i < rounds; i++) keep += (JSON.parse(JSON.stringify(report)) as typeof report).generation;
  const c = process.cpuUsage(c0);
  if (keep < 0) throw new Error('unreachable'); // keeps the loops' work observable
  return round((c.user + c.system) / rounds, 2);
}
