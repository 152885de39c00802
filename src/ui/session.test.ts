import { test } from 'node:test';
import assert from 'node:assert/strict';
import { consoleRefusal, forgetToken, keepToken, refusedNotice, takeToken, TOKEN_KEY } from './session.js';

function place(href: string, stored?: string) {
  const data = new Map<string, string>(stored ? [[TOKEN_KEY, stored]] : []);
  const replaced: string[] = [];
  return {
    replaced,
    data,
    href,
    storage: {
      getItem: (k: string) => data.get(k) ?? null,
      setItem: (k: string, v: string) => void data.set(k, v),
      removeItem: (k: string) => void data.delete(k),
    },
    replace: (u: string) => void replaced.push(u),
  };
}

test('a token in the URL is kept and removed from the address bar, other parameters and the hash stay', () => {
  const p = place('http://h:7700/?x=1&token=noops_admin_abc#/hosts');
  assert.equal(takeToken(p), 'noops_admin_abc');
  assert.deepEqual(p.replaced, ['/?x=1#/hosts']);
  assert.equal(p.data.get(TOKEN_KEY), 'noops_admin_abc');
});

test('without a token in the URL the kept one is used, and the address bar is left alone', () => {
  const p = place('http://h:7700/#/n/cop.acme', 'kept');
  assert.equal(takeToken(p), 'kept');
  assert.deepEqual(p.replaced, []);
});

test('an empty ?token= is removed and does not replace the kept token', () => {
  const p = place('http://h:7700/?token=', 'kept');
  assert.equal(takeToken(p), 'kept');
  assert.deepEqual(p.replaced, ['/']);
});

test('no token anywhere: null (the login form)', () => {
  assert.equal(takeToken(place('http://h:7700/')), null);
});

test('keep and forget', () => {
  const p = place('http://h/');
  keepToken(p.storage, '  t1 ');
  assert.equal(p.data.get(TOKEN_KEY), 't1');
  forgetToken(p.storage);
  assert.equal(p.data.has(TOKEN_KEY), false);
});

test('machine tokens are refused with the reason', () => {
  assert.equal(consoleRefusal('admin'), null);
  assert.equal(consoleRefusal('team'), null);
  assert.match(consoleRefusal('agent')!, /an agent token.*admin or team token/);
  assert.match(consoleRefusal('join')!, /a join token/);
});

test('refusedNotice: says the user was signed out, and why', () => {
  assert.deepEqual(
    [
      refusedNotice('the token is not known to this server (wrong, revoked, or from another server)'),
      refusedNotice('the token "web-ci" expired at 2030-01-01T00:00:00.000Z.'),
    ],
    [
      'You were signed out: the token is not known to this server (wrong, revoked, or from another server). Sign in again with a valid token.',
      'You were signed out: the token "web-ci" expired at 2030-01-01T00:00:00.000Z. Sign in again with a valid token.',
    ],
  );
});
