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

test('a process name takes its replicas (web@2, ...); a replica by its own name alone', () => {
  const withReplicas: WatchRef[] = [...refs, { id: `${A}/web@2`, tag: A, name: 'web@2', kind: 'process' }];
  const of = (q: string): string[] => selectWatches(q, withReplicas).map((r) => r.id);
  assert.deepEqual(of('cluster.prod/web'), [`${A}/web`, `${A}/web@2`]);
  assert.deepEqual(of('web'), [`${A}/web`, `${B}/web`, `${A}/web@2`]);
  assert.deepEqual(of('cluster.prod/web@2'), [`${A}/web@2`]);
  assert.deepEqual(of(`${A}/web`), [`${A}/web`], 'an id is one watch');
});
