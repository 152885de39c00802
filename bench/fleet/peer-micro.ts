/**
 * The piece path alone, in one process: a real PeerServer on loopback serving pieces (1 MiB) from
 * memory to fetchFromPeer (kept-alive connections, reused buffers), 4 in flight as the tracker
 * allows, with one ticket reused as an agent does. Prints the CPU time per piece (the server's
 * ticket and address checks, HTTP both ways, the copy into the piece's buffer); run it in two
 * worktrees, in turns, to compare (docs/benchmarks.md, "Packages peer to peer", session 12).
 *
 *   PIECES=3000 ROUNDS=5 node --import tsx bench/fleet/peer-micro.ts
 *   PIECES=20000 PIECE_KB=16 node --import tsx bench/fleet/peer-micro.ts   # the per-request work
 *   SERVE_FROM=file PIECE_KB=4096 PIECES=800 node --import tsx bench/fleet/peer-micro.ts   # as an agent serves
 *   TICKETS=fresh PIECE_KB=16 PIECES=3000 node --import tsx bench/fleet/peer-micro.ts       # a new asker at every piece
 *
 * SERVE_FROM: `memory` (default: slices of one buffer, as the simulated fleet serves), `file` (the
 * package in a file, each range read into a spare buffer handed back once sent, as an agent
 * serves), `file-fresh` (the same, each range in a new buffer: as agents served before session 27).
 *
 * TICKETS: `reused` (default: one signed ticket for every piece), `fresh` (a signed ticket of its
 * own for every piece, made beforehand: in a rollout a peer sees each asker about once, so each
 * piece it serves costs it a signature check), `keyed` (the same, each with a ticket keyed for
 * this peer beside it, as the tracker gives them since session 28: a MAC checked instead).
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signFieldsWith, signingKeyOf } from '../../src/release/index.js';
import {
  encodeTicket,
  fetchFromPeer,
  filePieceStore,
  keyedTicket,
  PeerServer,
  peerKeyOf,
  releasePiece,
  TICKET_DOMAIN,
  type PieceSource,
  type TicketFields,
} from '../../src/swarm/index.js';

const PIECES = Number(process.env.PIECES ?? 3000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
/** in flight at once: MAX_FETCHES_PER_AGENT */
const IN_FLIGHT = 4;
/** KiB a piece: 1024 as in a fleet; small pieces (PIECE_KB=16) weigh the per-request work (tickets, addresses, HTTP) over the bytes */
const PIECE = Number(process.env.PIECE_KB ?? 1024) * 1024;

const key = generateKeyPairSync('ed25519').privateKey;
const pkg = Buffer.alloc(16 * PIECE, 7);
const sha256 = createHash('sha256').update(pkg).digest('hex');
const from = process.env.SERVE_FROM ?? 'memory';
if (!['memory', 'file', 'file-fresh'].includes(from)) throw new Error(`SERVE_FROM is memory, file or file-fresh, not ${from}`);
const dir = mkdtempSync(join(tmpdir(), 'noops-peer-micro-'));
const store = from === 'memory' ? undefined : await filePieceStore(join(dir, 'package'), pkg.length);
await store?.writeAt(0, pkg);
const source: PieceSource = store
  ? {
      size: pkg.length,
      pieceSize: PIECE,
      has: () => true,
      readAt: (o, l) => store.readAt(o, l),
      ...(from === 'file' && { release: (data: Buffer) => store.release!(data) }),
    }
  : { size: pkg.length, pieceSize: PIECE, has: () => true, readAt: async (o, l) => pkg.subarray(o, o + l) };
const tickets = process.env.TICKETS ?? 'reused';
if (!['reused', 'fresh', 'keyed'].includes(tickets)) throw new Error(`TICKETS is reused, fresh or keyed, not ${tickets}`);
const peerKey = peerKeyOf('the serving agent token', signingKeyOf(key).keyId);
const server = new PeerServer({ key: () => signingKeyOf(key), peerKey: () => peerKey, log: () => undefined });
server.offer(sha256, source);
const url = `http://127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
// tickets name the addresses they may be used from since session 12 (noops-peer-ticket-v2)
const base = { host: 'bench', sha256, expires: Date.now() + 3_600_000 };
const fields = (TICKET_DOMAIN.endsWith('v1') ? base : { ...base, addresses: ['127.0.0.1'] }) as TicketFields;
const ticket = encodeTicket(fields, signFieldsWith(key, TICKET_DOMAIN, fields));
let asker = 0;
/** a round's tickets, made before it is timed: one for all, or one for each piece (signed, and keyed beside it) */
function ticketsOfRound(): { signed: string; keyed?: string }[] {
  if (tickets === 'reused') return [{ signed: ticket }];
  return Array.from({ length: PIECES }, () => {
    const f = { ...fields, host: `asker-${asker++}` };
    return {
      signed: encodeTicket(f, signFieldsWith(key, TICKET_DOMAIN, f)),
      ...(tickets === 'keyed' && { keyed: keyedTicket(peerKey, f) }),
    };
  });
}

async function round(): Promise<{ cpuUs: number; wallMs: number }> {
  let next = 0;
  const made = ticketsOfRound();
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (next < PIECES) {
      const n = next++;
      const i = n % 16;
      const t = made[n % made.length]!;
      releasePiece(await fetchFromPeer(url, sha256, i * PIECE, PIECE, t.signed, undefined, t.keyed));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const used = process.cpuUsage(cpu);
  return { cpuUs: used.user + used.system, wallMs: performance.now() - t0 };
}

await round(); // warm-up: connections, buffers, JIT
const out: string[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const { cpuUs, wallMs } = await round();
  out.push(`${(cpuUs / PIECES).toFixed(1)} us CPU, ${((wallMs * 1000) / PIECES).toFixed(1)} us wall per piece`);
}
await server.close();
await store?.close();
rmSync(dir, { recursive: true, force: true });
if (server.counts.refused > 0) throw new Error(`${server.counts.refused} requests refused`);
console.log(
  `${TICKET_DOMAIN}: ${PIECES} pieces of ${PIECE / 1024} KiB x ${ROUNDS} rounds, served from ${from}, tickets ${tickets} (${server.counts.signatureChecks} signature checks, ${server.counts.keyed} keyed)`,
);
for (const l of out) console.log(`  ${l}`);
