import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectWatches, type WatchRef } from './names.js';

const A = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const B = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.staging';
const refs: WatchRef[] = [
  { id: `${A}/web`, tag: A, name: 'web', kind: 'process' },
  { id: `${A}/worker`, tag: A, name: 'worker', kind: 'process' },
  { id: `${A}/report`, tag: A, name: 'report', kind: 'cron' },
  { id: `${B}/web`, tag: B, name: 'web', kind: 'process' },
  { id: 'nginx', tag: null, name: 'nginx', kind: 'process' },
];
const ids = (q: string | undefined): string[] => selectWatches(q, refs).map((r) => r.id);

test('nothing or all: every watch', () => {
  assert.equal(ids(undefined).length, 5);
  assert.equal(ids('all').length, 5);
});

test('an id, a partial TAG/NAME, a NAME, a TAG', () => {
  assert.deepEqual(ids(`${A}/worker`), [`${A}/worker`]);
  assert.deepEqual(ids('cluster.prod/web'), [`${A}/web`]);
  assert.deepEqual(ids('job.web/web'), [`${A}/web`, `${B}/web`]);
  assert.deepEqual(ids('web'), [`${A}/web`, `${B}/web`]);
  assert.deepEqual(ids('nginx'), ['nginx']);
  assert.deepEqual(ids('cluster.staging'), [`${B}/web`]);
  assert.deepEqual(ids(A), [`${A}/web`, `${A}/worker`, `${A}/report`]);
});

test('names that name nothing', () => {
  assert.deepEqual(ids('nope'), []);
  assert.deepEqual(ids('cluster.dev'), []);
  assert.deepEqual(ids('cluster.prod/nope'), []);
  assert.deepEqual(ids('not a tag/web'), []);
});
