/**
 * The spare piece buffers of peer-fetch.ts, seen as a download sees them: which buffer
 * `fetchFromPeer` hands out for a piece from a real peer server on loopback. (Reuse, a buffer
 * released twice, and a slice never kept: swarm.test.ts.)
 *
 * The spares are the module's state, and this file's process has its own: the idle test runs
 * first, on a clock and timers of its own, before any other test has armed the idle timer.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { signFieldsWith, signingKeyOf } from '../release/index.js';
import { fetchFromPeer, keepSpareBytes, releasePiece, SPARE_BYTES, SPARE_IDLE_MS } from './peer-fetch.js';
import { PeerServer } from './peer-server.js';
import { PIECE_SIZE_MIN } from './pieces.js';
import { encodeTicket, TICKET_DOMAIN, type TicketFields } from './tickets.js';

const key = generateKeyPairSync('ed25519').privateKey;
const pkg = Buffer.alloc(2 * PIECE_SIZE_MIN, 7);
const SHA = createHash('sha256').update(pkg).digest('hex');
const fields: TicketFields = { host: 'd1', addresses: ['127.0.0.1'], sha256: SHA, expires: Date.now() + 10 * 60_000 };
const ticket = encodeTicket(fields, signFieldsWith(key, TICKET_DOMAIN, fields));

const peer = new PeerServer({ key: () => signingKeyOf(key), log: () => undefined });
peer.offer(SHA, { size: pkg.length, pieceSize: PIECE_SIZE_MIN, has: () => true, readAt: async (o, l) => pkg.subarray(o, o + l) });
const url = `http://127.0.0.1:${await peer.listen('127.0.0.1', 0)}`;
after(() => peer.close());

/** The package's first piece from the peer, in the buffer the spares hand out. */
async function piece(): Promise<Buffer> {
  const got = await fetchFromPeer(url, SHA, 0, PIECE_SIZE_MIN, ticket);
  assert.ok(got.equals(pkg.subarray(0, PIECE_SIZE_MIN)));
  return got;
}

// Buffers are compared by identity, and never by assert.equal: on a failure it would print two
// MiB of bytes each, and diff them.

test('spares are let go once no piece was asked for in SPARE_IDLE_MS; a piece asked for keeps them', async (t) => {
  // the idle timer's clock (performance.now) and its timer, moved together
  let clock = 1_000_000;
  t.mock.method(performance, 'now', () => clock);
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const advance = (ms: number): void => {
    clock += ms;
    t.mock.timers.tick(ms);
  };
  const spare = await piece();
  releasePiece(spare); // the idle timer: SPARE_IDLE_MS from now
  advance(5_000);
  assert.ok((await piece()) === spare, 'kept a while');
  releasePiece(spare);
  advance(SPARE_IDLE_MS - 5_000); // the timer's time: a piece was asked for 15 s ago
  assert.ok((await piece()) === spare, 'kept: a piece was asked for within SPARE_IDLE_MS');
  releasePiece(spare);
  advance(SPARE_IDLE_MS - 1);
  advance(1); // SPARE_IDLE_MS since the last piece asked for
  assert.ok((await piece()) !== spare, 'let go: the next piece is a new buffer');
});

test('spares are kept up to SPARE_BYTES: a buffer released beyond it is not handed out again', async () => {
  // buffers of the piece's size, as many as the cap holds and one more (allocated, never written:
  // little of their memory is ever touched)
  const fit = SPARE_BYTES / PIECE_SIZE_MIN;
  const buffers: Buffer[] = Array.from({ length: fit + 1 }, () => Buffer.allocUnsafe(PIECE_SIZE_MIN));
  for (const b of buffers) releasePiece(b);
  // the spares are handed out last released first: the one beyond the cap was not kept
  assert.equal(buffers.indexOf(await piece()), fit - 1, 'the last buffer within the cap');
  // one taken makes room for one
  releasePiece(buffers[fit]!);
  assert.equal(buffers.indexOf(await piece()), fit, 'kept once there was room');
  releasePiece(buffers[fit - 1]!); // the cap again
  releasePiece(buffers[fit]!);
  assert.equal(buffers.indexOf(await piece()), fit - 1, 'beyond the cap again: not kept');
});

test('keepSpareBytes sets the cap: a process running many agents keeps what each would keep', async () => {
  const [a, b, c] = [0, 1, 2].map(() => Buffer.allocUnsafe(PIECE_SIZE_MIN));
  try {
    keepSpareBytes(0); // below what is held: every spare let go
    releasePiece(a!);
    assert.ok((await piece()) !== a, 'a cap of 0 keeps nothing');
    keepSpareBytes(2 * PIECE_SIZE_MIN);
    releasePiece(a!);
    releasePiece(b!);
    releasePiece(c!); // beyond the cap: not kept
    assert.ok((await piece()) === b, 'kept within the cap, last released first');
    assert.ok((await piece()) === a, 'kept within the cap');
    const next: Buffer = await piece();
    assert.ok(next !== a && next !== b && next !== c, 'the third was not kept');
    keepSpareBytes(3 * PIECE_SIZE_MIN); // raised: all three kept
    for (const x of [a, b, c]) releasePiece(x!);
    assert.ok((await piece()) === c, 'kept within the raised cap');
    assert.throws(() => keepSpareBytes(Number.NaN), RangeError);
    assert.throws(() => keepSpareBytes(-1), RangeError);
  } finally {
    keepSpareBytes(SPARE_BYTES);
  }
});
