import assert from 'node:assert/strict';
import test from 'node:test';
import { bestDigest } from '../../src/swarm/digests.js';
import { calibrate, describeCalibration } from './calibrate.js';

test('the machine constants are measured, in their units, with the echo process gone', async () => {
  const c = await calibrate({ roundTrips: 300, digestMs: 20, jsonRounds: 2000 });
  // Units: a TCP message over loopback costs microseconds of CPU, never under half of one or
  // over 5 ms (a figure in ns or ms would fall outside); a digest of 4 MiB runs at 0.05-100 GB/s;
  // a small JSON round trip takes 0.05-1,000 µs.
  assert.ok(c.loopbackMessageUs > 0.5 && c.loopbackMessageUs < 5000, `loopback ${c.loopbackMessageUs} µs`);
  assert.ok(c.sha256GBps > 0.05 && c.sha256GBps < 100, `sha256 ${c.sha256GBps} GB/s`);
  if (bestDigest() === 'blake3') assert.ok(c.blake3GBps !== null && c.blake3GBps > 0.05 && c.blake3GBps < 100, `blake3 ${c.blake3GBps}`);
  else assert.equal(c.blake3GBps, null);
  assert.ok(c.jsonRoundTripUs > 0.05 && c.jsonRoundTripUs < 1000, `json ${c.jsonRoundTripUs} µs`);
  const line = describeCalibration(c);
  assert.match(line, new RegExp(`a loopback message ${c.loopbackMessageUs} µs of CPU`));
  assert.match(line, new RegExp(`sha256 ${c.sha256GBps} GB/s`));
});
