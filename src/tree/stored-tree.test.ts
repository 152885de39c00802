/** `StoredTree` over a real (in-memory SQLite) store: resolution against the nodes it knows, and nodes made on first use. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../store/open.js';
import { StoredTree } from './stored-tree.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';
const CLUSTER = `${JOB}_cluster.prod`;

test('ensure creates a node with its ancestors, once; a new StoredTree reads them back', async (t) => {
  const store = await openStore('sqlite::memory:');
  t.after(() => store.close());
  const tree = new StoredTree(store);
  await tree.ensure(CLUSTER);
  await tree.ensure(CLUSTER);
  const rows = await store.listNodes();
  assert.deepEqual(rows.map((n) => n.tag).sort(), [
    'cop.acme',
    'cop.acme_owt.web',
    'cop.acme_owt.web_pdl.shop',
    'cop.acme_owt.web_pdl.shop_service.api',
    JOB,
    CLUSTER,
  ]);
  assert.equal(rows.find((n) => n.tag === CLUSTER)?.parent, JOB);
  assert.ok((await new StoredTree(store).all()).has(CLUSTER));
});

test('resolve: a partial tag names the one node it fits; a node above the level stands for the one below it', async (t) => {
  const store = await openStore('sqlite::memory:');
  t.after(() => store.close());
  const tree = new StoredTree(store);
  await tree.ensure(CLUSTER);
  assert.equal(await tree.resolve('cluster.prod', { level: 'cluster' }), CLUSTER);
  assert.equal(await tree.resolve('job.web', { level: 'cluster' }), CLUSTER);
  assert.equal(await tree.resolve(CLUSTER, { level: 'job', truncate: true }), JOB);
  assert.equal(await tree.resolveAny('pdl.shop'), 'cop.acme_owt.web_pdl.shop');
});

test('resolve refuses a tag of the wrong level, naming the candidates when there are several', async (t) => {
  const store = await openStore('sqlite::memory:');
  t.after(() => store.close());
  const tree = new StoredTree(store);
  await tree.ensure(CLUSTER);
  await tree.ensure(`${JOB}_cluster.staging`);
  await assert.rejects(tree.resolve('job.web', { level: 'cluster' }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'NOOPS_E_TAG_INVALID');
    assert.match(err.message, /under it are .*cluster\.prod.*cluster\.staging/);
    return true;
  });
  // truncating to a level the tag does not reach names nothing
  await assert.rejects(
    tree.resolve('cop.acme', { level: 'cluster', truncate: true }),
    (err: Error & { code?: string }) => err.code === 'NOOPS_E_TAG_INVALID',
  );
  await assert.rejects(tree.resolveAny('pdl.nothing'), (err: Error & { code?: string }) => err.code === 'NOOPS_E_TAG_UNKNOWN');
});
