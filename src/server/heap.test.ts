/** The server's heap setting, and an operator's own, which wins. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tuneHeap } from './heap.js';

test("the server sets V8's heap growth unless node was given its own, on the command line or in NODE_OPTIONS", () => {
  assert.equal(tuneHeap([], ''), true);
  assert.equal(tuneHeap(['--heap-growing-percent=30'], ''), false);
  assert.equal(tuneHeap(['--heap_growing_percent', '30'], ''), false);
  assert.equal(tuneHeap([], '--max-old-space-size=512 --heap-growing-percent=25'), false);
  assert.equal(tuneHeap(['--heap-growing-percents-are-not-a-flag'], '--heap-growing'), true, 'only that flag counts');
});
