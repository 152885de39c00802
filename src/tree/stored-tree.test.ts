/** `StoredTree` over a real (in-memory SQLite) store: resolution against the nodes it knows, and nodes made on first use. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../store/open.js';
import { type Channel, LocalChangeBus, Subscribers, type Subscriber } from '../bus/index.js';
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

test('a node added through another server is known here at once: the bus says so, this tree reads the store again', async (t) => {
  const store = await openStore('sqlite::memory:');
  t.after(() => store.close());
  const bus = new LocalChangeBus();
  let reads = 0;
  const counting = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name !== 'listNodes') return typeof value === 'function' ? value.bind(target) : value;
      return () => {
        reads += 1;
        return target.listNodes();
      };
    },
  });
  const here = new StoredTree(counting, bus);
  const there = new StoredTree(store, bus);
  await here.ensure(CLUSTER);
  assert.equal(reads, 1);
  await here.all();
  assert.equal(reads, 1, 'its own new node is no news here: the set is kept');
  await there.ensure(`${JOB}_cluster.staging`);
  assert.ok((await here.all()).has(`${JOB}_cluster.staging`), 'the listing has it (no miss to read again on)');
  assert.equal(await here.resolve('cluster.staging', { level: 'cluster' }), `${JOB}_cluster.staging`);
  assert.equal(reads, 2, 'read again once, after the bus said nodes were added');
});

test('a tag it cannot resolve reads the store once more (a notice that never came)', async (t) => {
  const store = await openStore('sqlite::memory:');
  t.after(() => store.close());
  const here = new StoredTree(store); // no bus: hears nothing
  await here.ensure(CLUSTER);
  await new StoredTree(store).ensure(`${JOB}_cluster.staging`);
  assert.equal(await here.resolveAny('cluster.staging'), `${JOB}_cluster.staging`);
  await assert.rejects(here.resolveAny('cluster.nothing'), (err: Error & { code?: string }) => err.code === 'NOOPS_E_TAG_UNKNOWN');
});

test('a resync forgets the nodes kept', async (t) => {
  const store = await openStore('sqlite::memory:');
  t.after(() => store.close());
  const subscribers = new Subscribers();
  const bus = { publish: async () => {}, subscribe: (c: Channel, s: Subscriber) => subscribers.add(c, s), close: async () => {} };
  const here = new StoredTree(store, bus);
  assert.equal((await here.all()).size, 0);
  await store.ensureNodes([{ tag: 'cop.acme', level: 'cop', parent: null, createdAt: new Date().toISOString() }]);
  assert.equal((await here.all()).size, 0, 'kept');
  subscribers.resyncAll();
  assert.deepEqual([...(await here.all())], ['cop.acme']);
});
