import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopback, listenMode } from './listen.js';

test('loopback: 127.0.0.0/8, ::1 in its forms, IPv4-mapped 127.x and localhost; nothing else', () => {
  for (const h of [
    '127.0.0.1',
    '127.1.2.3',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
    'localhost',
    'LOCALHOST',
    'api.localhost',
  ]) {
    assert.equal(isLoopback(h), true, h);
  }
  for (const h of [
    '0.0.0.0',
    '::',
    '',
    '10.0.0.5',
    '192.168.1.2',
    '128.0.0.1',
    '::2',
    '::ffff:10.0.0.1',
    'fe80::1',
    'example.com',
    'localhost.example.com',
    'vm',
  ]) {
    assert.equal(isLoopback(h), false, h);
  }
});

test('the listen rule: TLS anywhere, plain on loopback, plain elsewhere only with --insecure', () => {
  assert.equal(listenMode('127.0.0.1', { tls: false, insecure: false }), 'plain-loopback');
  assert.equal(listenMode('::1', { tls: false, insecure: false }), 'plain-loopback');
  assert.equal(listenMode('0.0.0.0', { tls: false, insecure: false }), 'refuse');
  assert.equal(listenMode('::', { tls: false, insecure: false }), 'refuse');
  assert.equal(listenMode('10.0.0.5', { tls: false, insecure: false }), 'refuse');
  assert.equal(listenMode('0.0.0.0', { tls: false, insecure: true }), 'plain-insecure');
  assert.equal(listenMode('0.0.0.0', { tls: true, insecure: false }), 'tls');
  assert.equal(listenMode('127.0.0.1', { tls: true, insecure: false }), 'tls');
});
