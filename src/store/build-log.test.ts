import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, BUILD_LOG_HEAD_CHARS, BUILD_LOG_TAIL_CHARS, cutMarker, cutRange, pieces } from './build-log.js';

test('pieces: split at the piece size, each knowing where it starts', () => {
  assert.deepEqual(pieces('abcdefg', 100, 3), [
    { pos: 100, text: 'abc' },
    { pos: 103, text: 'def' },
    { pos: 106, text: 'g' },
  ]);
  assert.deepEqual(pieces('', 5, 3), []);
});

test('cutRange: nothing while the log fits head and tail; then what lies between them', () => {
  assert.equal(cutRange(BUILD_LOG_HEAD_CHARS + BUILD_LOG_TAIL_CHARS), undefined);
  assert.deepEqual(cutRange(100, 10, 20), { from: 10, before: 80 });
  assert.equal(cutRange(25, 10, 20), undefined);
});

test('assemble: kept pieces in order, a marker saying how much was cut, the end of the whole log', () => {
  const kept = [
    { pos: 10, text: 'yz' },
    { pos: 0, text: 'ab' },
  ];
  assert.deepEqual(assemble(kept), { text: `ab${cutMarker(8)}yz`, end: 12 });
  assert.deepEqual(assemble(kept, 1), { text: `b${cutMarker(8)}yz`, end: 12 }, 'from inside a piece');
  assert.deepEqual(assemble(kept, 5), { text: `${cutMarker(5)}yz`, end: 12 }, 'from inside the gap');
  assert.deepEqual(assemble(kept, 12), { text: '', end: 12 }, 'nothing new');
  assert.deepEqual(assemble([], 0), { text: '', end: 0 });
});
