import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { signFieldsWith, signingKeyOf } from '../release/index.js';
import {
  checkTable,
  MAX_PIECES,
  PIECE_SIZE_MIN,
  PIECES_DOMAIN,
  pieceMatches,
  pieceRange,
  pieceSizeFor,
  piecesDomain,
  PIECES_DOMAIN_V2,
  type PieceTable,
} from './pieces.js';
import { bestDigest, canCheck, digestOf, type PieceDigest } from './digests.js';
import { computePieces } from './table.js';
import { checkTicket, encodeTicket, refusedFrom, TICKET_DOMAIN } from './tickets.js';

const key = generateKeyPairSync('ed25519').privateKey;
const other = generateKeyPairSync('ed25519').privateKey;
const pinned = signingKeyOf(key);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Why the BLAKE3 tests cannot run here (false: they run). Its native module has builds for the
 * usual platforms only; elsewhere noops checks pieces with sha256, which the other tests cover.
 */
// never skipped in CI (CI=true): it runs where the package has a build, and an install that lost
// the native module (optional packages left out) must fail there, not move every agent to sha256
const noBlake3 =
  !canCheck('blake3') &&
  process.env.CI !== 'true' &&
  `BLAKE3's native module (@napi-rs/blake-hash) does not load on ${process.platform}-${process.arch}: pieces are checked with sha256 here`;

async function tableOf(bytes: Buffer, signer = key, digest: PieceDigest = 'sha256'): Promise<PieceTable> {
  const fields = await computePieces(sha(bytes), bytes.length, Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), digest);
  return { ...fields, signature: signFieldsWith(signer, piecesDomain(fields), fields) };
}

test('the piece size doubles from 4 MiB until a package is at most MAX_PIECES pieces', () => {
  assert.equal(PIECE_SIZE_MIN, 4 * 1024 * 1024);
  assert.equal(pieceSizeFor(10_000_000), PIECE_SIZE_MIN);
  assert.equal(pieceSizeFor(256 * 1024 * 1024), PIECE_SIZE_MIN);
  assert.equal(pieceSizeFor(256 * 1024 * 1024 + 1), 2 * PIECE_SIZE_MIN);
  assert.ok(Math.ceil(1e9 / pieceSizeFor(1e9)) <= MAX_PIECES);
  assert.deepEqual(pieceRange({ size: 2.5 * PIECE_SIZE_MIN, pieceSize: PIECE_SIZE_MIN }, 2), {
    offset: 2 * PIECE_SIZE_MIN,
    length: PIECE_SIZE_MIN / 2,
  });
});

test('a table is computed across chunk bounds; each piece matches its digest, a changed one does not', async () => {
  const bytes = Buffer.alloc(2.5 * PIECE_SIZE_MIN, 7);
  bytes[PIECE_SIZE_MIN + 5] = 1;
  const t = await tableOf(bytes);
  assert.equal(t.digests.length, 3);
  assert.equal(checkTable(pinned, t.sha256, t), undefined);
  const piece1 = bytes.subarray(PIECE_SIZE_MIN, 2 * PIECE_SIZE_MIN);
  assert.ok(pieceMatches(t, 1, piece1));
  const changed = Buffer.from(piece1);
  changed[0] = 9;
  assert.equal(pieceMatches(t, 1, changed), false);
  assert.equal(pieceMatches(t, 1, piece1.subarray(1)), false, 'a short piece');
  assert.equal(pieceMatches(t, 3, piece1), false, 'no such piece');
});

test('a table must be signed by the pinned key, for this package, unchanged', async () => {
  const bytes = Buffer.alloc(3 * PIECE_SIZE_MIN, 3);
  bytes[0] = 1; // pieces that differ
  const t = await tableOf(bytes);
  assert.match(checkTable(pinned, 'b'.repeat(64), t)!, /not b{12}/);
  assert.match(checkTable(pinned, t.sha256, { ...t, digests: [t.digests[1]!, ...t.digests.slice(1)] })!, /changed after it was signed/);
  assert.match(checkTable(pinned, t.sha256, await tableOf(bytes, other))!, /not by key/);
  assert.match(checkTable(pinned, t.sha256, { ...t, digests: t.digests.slice(1) })!, /one digest per piece/);
});

test('BLAKE3 digests: its published values, and a table of them computed across chunk bounds, signed under its own domain', {
  skip: noBlake3,
}, async () => {
  // BLAKE3's own test values (the empty input, and "abc")
  assert.equal(digestOf('blake3', Buffer.alloc(0)), 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
  assert.equal(digestOf('blake3', Buffer.from('abc')), '6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85');
  const said: string[] = [];
  assert.equal(
    bestDigest((l) => said.push(l)),
    'blake3',
    'its native module loads on this machine',
  );
  assert.deepEqual(said, [], 'nothing to say when BLAKE3 loads');
  assert.ok(canCheck('blake3') && canCheck('sha256') && !canCheck('md5'));
  const bytes = Buffer.alloc(2.5 * PIECE_SIZE_MIN, 5);
  bytes[2 * PIECE_SIZE_MIN + 9] = 1;
  const t = await tableOf(bytes, key, 'blake3');
  assert.equal(t.digest, 'blake3');
  assert.equal(piecesDomain(t), PIECES_DOMAIN_V2);
  const last = bytes.subarray(2 * PIECE_SIZE_MIN);
  assert.equal(t.digests[2], digestOf('blake3', last), 'the table computed in chunks is the digest of the piece');
  assert.equal(checkTable(pinned, t.sha256, t), undefined);
  assert.ok(pieceMatches(t, 2, last));
  const changed = Buffer.from(last);
  changed[9] = 5;
  assert.equal(pieceMatches(t, 2, changed), false);
  // the same bytes' sha256 table differs; each verifies only as it was signed
  const s = await tableOf(bytes);
  assert.notDeepEqual(s.digests, t.digests);
  assert.equal(pieceMatches(s, 2, last), true);
  assert.match(checkTable(pinned, t.sha256, { ...t, digests: s.digests })!, /changed after it was signed/);
  assert.match(checkTable(pinned, t.sha256, { ...s, digest: 'blake3' })!, /changed after it was signed/);
});

test('the server computes no table over bytes that are not the package', async () => {
  const bytes = Buffer.from('a package');
  await assert.rejects(computePieces('c'.repeat(64), bytes.length, Readable.from([bytes])), { code: 'NOOPS_E_SHA256_MISMATCH' });
});

test('a ticket is good for its package until it expires, signed by the pinned key', () => {
  const fields = { host: 'h2', addresses: ['10.0.0.2'], sha256: 'a'.repeat(64), expires: 2_000 };
  const ticket = encodeTicket(fields, signFieldsWith(key, TICKET_DOMAIN, fields));
  assert.deepEqual(checkTicket(pinned, ticket, fields.sha256, 1_000), fields);
  assert.match((checkTicket(pinned, ticket, 'b'.repeat(64), 1_000) as { refused: string }).refused, /not b{12}/);
  assert.match((checkTicket(pinned, ticket, fields.sha256, 3_000) as { refused: string }).refused, /expired/);
  assert.match((checkTicket(undefined, ticket, fields.sha256, 1_000) as { refused: string }).refused, /pinned no server key/);
  const forged = encodeTicket(fields, signFieldsWith(other, TICKET_DOMAIN, fields));
  assert.match((checkTicket(pinned, forged, fields.sha256, 1_000) as { refused: string }).refused, /not by key/);
  const stretched = encodeTicket({ ...fields, expires: 9e12 }, signFieldsWith(key, TICKET_DOMAIN, fields));
  assert.match((checkTicket(pinned, stretched, fields.sha256, 1_000) as { refused: string }).refused, /changed after/);
  // a piece table's signature is no ticket: the domains differ
  const asTable = encodeTicket(fields, signFieldsWith(key, PIECES_DOMAIN, fields));
  assert.match((checkTicket(pinned, asTable, fields.sha256, 1_000) as { refused: string }).refused, /changed after/);
  // the addresses it may be used from are signed too
  const moved = encodeTicket({ ...fields, addresses: ['10.0.0.9'] }, signFieldsWith(key, TICKET_DOMAIN, fields));
  assert.match((checkTicket(pinned, moved, fields.sha256, 1_000) as { refused: string }).refused, /changed after/);
  assert.equal(refusedFrom(fields, '::ffff:10.0.0.2'), undefined, 'its holder, over IPv6 or IPv4');
  assert.match(refusedFrom(fields, '10.0.0.9')!, /for a connection from 10\.0\.0\.2, not from 10\.0\.0\.9/);
  assert.match(refusedFrom(fields, undefined)!, /unknown address/);
  assert.match((checkTicket(pinned, 'not base64 json', fields.sha256, 1_000) as { refused: string }).refused, /not readable/);
  // a signature of the wrong shape is refused, not thrown (the peer server reset the connection)
  const shaped = (signature: unknown) => Buffer.from(JSON.stringify({ ...fields, signature })).toString('base64url');
  for (const [signature, why] of [
    [null, /carries no signature/],
    ['abc', /carries no signature/],
    [7, /carries no signature/],
    [{}, /not a key id and a value/],
    [{ keyId: 1, value: 'x' }, /not a key id and a value/],
    [{ keyId: 'k', value: null }, /not a key id and a value/],
  ] as const)
    assert.match(
      (checkTicket(pinned, shaped(signature), fields.sha256, 1_000) as { refused: string }).refused,
      why,
      JSON.stringify(signature),
    );
});

test('where BLAKE3 does not load, a process checks sha256, says why once, and refuses a BLAKE3 table rather than fail on its pieces', async (t) => {
  const bytes = Buffer.alloc(2 * PIECE_SIZE_MIN + 7, 4);
  // a table that names BLAKE3, signed: refused by the kind it names before any digest in it is
  // read, so sha256 values stand in for them (this test runs where BLAKE3 does not load too)
  const fields = { ...(await computePieces(sha(bytes), bytes.length, Readable.from([bytes]))), digest: 'blake3' as const };
  const table: PieceTable = { ...fields, signature: signFieldsWith(key, piecesDomain(fields), fields) };
  // a machine without the native package (no build for its platform, or installed without optional
  // packages): the package and every form a loader tries after it (tsx: .js, /index, ...) are not found
  const dir = mkdtempSync(join(tmpdir(), 'noops-no-blake3-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hook = join(dir, 'no-blake3.cjs');
  writeFileSync(
    hook,
    `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request.startsWith('@napi-rs/blake-hash')) throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
  return resolve.call(this, request, ...rest);
};
`,
  );
  const script = `
    import { bestDigest, canCheck } from './src/swarm/digests.ts';
    import { fetchPieces } from './src/swarm/fetch-pieces.ts';
    import { checkTable } from './src/swarm/pieces.ts';
    const [pinned, table] = JSON.parse(process.argv[1]);
    const logged = [];
    // a download: the first thing it does is choose its digest (the tracker is away here)
    const download = await fetchPieces({ sha256: table.sha256, log: (l) => logged.push(l), ask: async () => { throw new Error('no tracker'); } }).catch((e) => e.message);
    const again = [];
    bestDigest((l) => again.push(l)); // a second download's choice
    console.log(JSON.stringify({ best: bestDigest(), blake3: canCheck('blake3'), sha256: canCheck('sha256'), why: checkTable(pinned, table.sha256, table), download, logged, again }));`;
  const r = spawnSync(
    process.execPath,
    ['--require', hook, '--import', 'tsx', '--input-type=module', '-e', script, JSON.stringify([pinned, table])],
    { cwd: new URL('../..', import.meta.url).pathname, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    best: string;
    blake3: boolean;
    sha256: boolean;
    why: string;
    download: string;
    logged: string[];
    again: string[];
  };
  assert.equal(out.best, 'sha256');
  assert.match(out.download, /the tracker cannot be used \(no tracker\)/);
  assert.equal(out.logged.length, 1, `the download's log says why: ${JSON.stringify(out.logged)}`);
  assert.match(out.logged[0]!, /checked with sha256, not BLAKE3 .*: Cannot find module '@napi-rs\/blake-hash'$/);
  assert.deepEqual(out.again, [], 'once a process: not again at the next download');
  assert.deepEqual([out.blake3, out.sha256], [false, true]);
  assert.match(out.why, /digests are "blake3", which this agent does not check/);
});

test("BLAKE3's module loads without a network report: no DNS lookup of every socket's peer on the main thread", () => {
  // The module's loader calls process.report.getReport() (glibc or musl): by default it describes
  // every socket, looking its peer up in DNS, synchronously. Seen here: 100 s with 2,000 sockets to
  // localhost, where ::1 has no name and the DNS server does not answer.
  const script = `
    const before = process.report.excludeNetwork;
    const seen = [];
    const getReport = process.report.getReport.bind(process.report);
    process.report.getReport = (...a) => { seen.push(process.report.excludeNetwork); return getReport(...a); };
    const { canCheck } = await import('./src/swarm/digests.ts');
    const blake3 = canCheck('blake3');
    console.log(JSON.stringify({ seen, blake3, restored: process.report.excludeNetwork === before }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: new URL('../..', import.meta.url).pathname,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { seen: boolean[]; blake3: boolean; restored: boolean };
  if (process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64'))
    assert.ok(out.seen.length > 0, 'the loader asked for a report (it tells glibc from musl so)');
  assert.ok(
    out.seen.every((excluded) => excluded === true),
    `every report made while the module loaded left the network out: ${JSON.stringify(out.seen)}`,
  );
  assert.ok(out.restored, 'and reports are made as before once it has loaded');
});
