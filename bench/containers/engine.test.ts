import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freeBlock } from './engine.js';

test('freeBlock: the first block of the space that no network of the engine overlaps', () => {
  assert.equal(freeBlock('198.18.128.0/17', 23, []), '198.18.128.0/23');
  assert.equal(freeBlock('198.18.128.0/17', 23, ['198.18.129.0/24', '172.17.0.0/16']), '198.18.130.0/23');
  // a wider network that covers the start of the space skips every block beneath it
  assert.equal(freeBlock('198.18.128.0/17', 23, ['198.18.128.0/20']), '198.18.144.0/23');
  // what is not an IPv4 CIDR is ignored, not fatal
  assert.equal(freeBlock('198.18.128.0/17', 23, ['fd00::/64']), '198.18.128.0/23');
});

test('freeBlock: undefined when the whole space is taken', () => {
  assert.equal(freeBlock('198.18.128.0/17', 23, ['198.18.0.0/15']), undefined);
});
