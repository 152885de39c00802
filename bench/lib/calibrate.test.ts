import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { bestDigest } from '../../src/swarm/index.js';
import { CALIBRATE_TIMEOUT_MS, type Calibration, calibrate, describeCalibration, perMessageUs } from './calibrate.js';

/** The handles a ping-pong opens: its server, its connection, the echo process. */
const OPENED = new Set(['TCPServerWrap', 'TCPSocketWrap', 'ProcessWrap']);
const opened = (): string[] => process.getActiveResourcesInfo().filter((r) => OPENED.has(r));

test('a message costs both ends CPU, over the two messages of each round trip', () => {
  assert.equal(perMessageUs({ user: 300, system: 100 }, { user: 200, system: 200 }, 4), 100);
  assert.equal(perMessageUs({ user: 1, system: 0 }, { user: 0, system: 0 }, 3), 0.2); // rounded to a tenth
});

test('the machine constants are measured, in their units, and the echo process and sockets are gone after', async () => {
  const before = opened();
  const c = await calibrate({ roundTrips: 300, digestMs: 20, jsonRounds: 2000 });
  // Units: a TCP message over loopback costs microseconds of CPU, never under half of one or
  // over 5 ms; a digest of 4 MiB runs at 0.05-100 GB/s; a small JSON round trip takes 0.05-1,000 µs.
  assert.ok(c.loopbackMessageUs > 0.5 && c.loopbackMessageUs < 5000, `loopback ${c.loopbackMessageUs} µs`);
  assert.ok(c.sha256GBps > 0.05 && c.sha256GBps < 100, `sha256 ${c.sha256GBps} GB/s`);
  if (bestDigest() === 'blake3') assert.ok(c.blake3GBps !== null && c.blake3GBps > 0.05 && c.blake3GBps < 100, `blake3 ${c.blake3GBps}`);
  else assert.equal(c.blake3GBps, null);
  assert.ok(c.jsonRoundTripUs > 0.05 && c.jsonRoundTripUs < 1000, `json ${c.jsonRoundTripUs} µs`);
  await new Promise((r) => setTimeout(r, 20)); // closed handles are let go in a later phase of the loop
  assert.deepEqual(opened(), before);
});

test('the line printed names each constant, and a BLAKE3 that does not load', () => {
  const c: Calibration = { loopbackMessageUs: 47.2, blake3GBps: 3.44, sha256GBps: 1.42, jsonRoundTripUs: 4.29 };
  assert.equal(
    describeCalibration(c),
    "a loopback message 47.2 µs of CPU, BLAKE3 3.44 GB/s, sha256 1.42 GB/s, a report's JSON round trip 4.29 µs",
  );
  assert.equal(
    describeCalibration({ ...c, blake3GBps: null }),
    "a loopback message 47.2 µs of CPU, BLAKE3 not loaded, sha256 1.42 GB/s, a report's JSON round trip 4.29 µs",
  );
});

test('options below one are refused (a ping-pong of no round trips would never end)', async () => {
  await assert.rejects(calibrate({ roundTrips: 0 }), /roundTrips must be a whole number of at least 1, not 0/);
  await assert.rejects(calibrate({ jsonRounds: 0.5 }), /jsonRounds must be a whole number/);
});

test('an echo process that dies in the middle fails the measure at once, and leaves nothing open', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-calibrate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const echo = join(dir, 'dies.mjs');
  // answers five bytes, then the process ends (its connection closed by the kernel, no error)
  writeFileSync(
    echo,
    "const s = require('node:net').connect(Number(process.argv[2]), '127.0.0.1'); let n = 0; s.on('data', (d) => { if (++n > 5) process.exit(0); s.write(d); });",
  );
  writeFileSync(join(dir, 'package.json'), '{"type": "commonjs"}');
  const before = opened();
  const t0 = Date.now();
  await assert.rejects(calibrate({ roundTrips: 300, digestMs: 1, jsonRounds: 1, echo }), /the echo process (exited|closed)/);
  assert.ok(Date.now() - t0 < CALIBRATE_TIMEOUT_MS, 'not by the deadline');
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(opened(), before);
});
