import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namesRoot, rootAllowed, rootUsers } from './check-user.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';

test('root is allowed by a grant on the tag or a node above it, never beside or below it', () => {
  assert.equal(rootAllowed(TAG, []), false);
  assert.equal(rootAllowed(TAG, [TAG]), true);
  assert.equal(rootAllowed(TAG, ['cop.acme_owt.web']), true);
  assert.equal(rootAllowed(TAG, ['cop.acme']), true);
  assert.equal(rootAllowed(TAG, ['cop.acme_owt.mail']), false);
  assert.equal(rootAllowed(TAG, ['cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.staging']), false);
  assert.equal(rootAllowed('cop.acme_owt.web', [TAG]), false, 'a grant below does not cover its parent');
});

test('root is the name root or the uid 0, in any spelling of 0', () => {
  assert.deepEqual(['root', '0', '000', 'noops', '1000', 'toor', '10', null, undefined].map(namesRoot), [
    true,
    true,
    true,
    false,
    false,
    false,
    false,
    false,
    false,
  ]);
});

test('the processes and crons of a manifest that run as root, named', () => {
  const p = (name: string, user?: string | null) => ({
    name,
    command: 'x',
    port: null,
    env: {},
    stopSignal: 'SIGTERM',
    stopTimeout: 1,
    startGrace: 1,
    ...(user !== undefined && { user }),
  });
  const c = (name: string, user: string | null) => ({
    name,
    schedule: '* * * * *',
    timezone: null,
    command: 'x',
    env: {},
    timeout: 0,
    user,
  });
  assert.deepEqual(rootUsers({ processes: [p('web'), p('worker', null), p('app', 'www-data')], crons: [c('nightly', null)] }), []);
  assert.deepEqual(rootUsers({ processes: [p('web', 'root'), p('worker', 'noops')], crons: [c('nightly', '0'), c('hourly', 'app')] }), [
    'process web (user root)',
    'cron nightly (user 0)',
  ]);
  assert.deepEqual(rootUsers({ processes: [p('web', 'root')] }), ['process web (user root)']);
});
