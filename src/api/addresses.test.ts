import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostAddressOf, plainAddress, processAddress } from './addresses.js';

test("a process's address: its own (a container's), else its host's label, else where its agent connects from", () => {
  const host = { labels: { address: '198.18.9.9' }, address: '::ffff:198.19.1.1' };
  assert.equal(processAddress({ address: '198.18.3.2' }, host), '198.18.3.2');
  assert.equal(processAddress({ address: null }, host), '198.18.9.9', 'the label, which naming once ignored');
  assert.equal(processAddress({}, { labels: {}, address: '::ffff:198.19.1.1' }), '198.19.1.1', 'the IPv4-mapped prefix dropped');
  assert.equal(processAddress({}, { address: '::1' }), '::1');
  assert.equal(processAddress({ address: '' }, { labels: {}, address: '198.19.1.1' }), '198.19.1.1', 'an empty address is none');
  assert.equal(processAddress({}, undefined), null);
  assert.equal(hostAddressOf({ labels: { address: '' }, address: null }), null);
  assert.equal(plainAddress('::ffff:198.18.0.1'), '198.18.0.1');
  assert.equal(plainAddress('::ffff:1'), '::ffff:1');
});
