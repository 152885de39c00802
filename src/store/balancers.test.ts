/**
 * Load-balancer pools, drain marks and reports on both backends: SQLite in memory, and
 * PostgreSQL when NOOPS_TEST_PG_URL is set (a fresh `noops_lb_<random>` database per test).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from './open.js';
import type { BalancerRow, Store } from './index.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from './test-pg.js';

const AT = '2026-01-01T00:00:00.000Z';
const LATER = '2026-01-01T00:05:00.000Z';

const web: BalancerRow = {
  name: 'web',
  selector: 'cop=acme,service=shop',
  host: 'lb1',
  driver: 'haproxy',
  socket: '/run/haproxy/admin.sock',
  backend: 'shop',
  file: null,
  vip: null,
  process: null,
  pidFile: null,
  api: null,
  createdBy: 'admin',
  createdAt: AT,
  updatedAt: AT,
};

const edge: BalancerRow = {
  ...web,
  name: 'edge',
  driver: 'nginx',
  socket: null,
  backend: null,
  file: '/etc/nginx/conf.d/shop.conf',
  process: 'web',
  pidFile: '/run/nginx.pid',
  api: '127.0.0.1:8091',
};

async function using(open: () => Promise<Store>, fn: (store: Store) => Promise<void>): Promise<void> {
  const store = await open();
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

function behaves(open: () => Promise<Store>): void {
  it('adds, replaces (keeping who made it and when), lists by name and deletes pools', async () => {
    await using(open, async (store) => {
      assert.deepEqual(await store.putBalancer(web), { created: true });
      assert.deepEqual(await store.putBalancer(edge), { created: true });
      assert.deepEqual(await store.getBalancer('web'), web);
      assert.deepEqual(await store.listBalancers(), [edge, web]);

      const moved = { ...web, host: 'lb2', backend: 'shop2', createdBy: 'someone', createdAt: LATER, updatedAt: LATER };
      assert.deepEqual(await store.putBalancer(moved), { created: false });
      assert.deepEqual(await store.getBalancer('web'), { ...moved, createdBy: 'admin', createdAt: AT });

      assert.equal(await store.deleteBalancer('web'), true);
      assert.equal(await store.deleteBalancer('web'), false);
      assert.equal(await store.getBalancer('web'), undefined);
      assert.deepEqual(await store.listBalancers(), [edge]);
    });
  });

  it('keeps one drain mark per host, tag and version; clears one version or all; lists and sweeps by time', async () => {
    await using(open, async (store) => {
      const tag = 'cop.acme_service.shop_job.web_cluster.prod';
      const a = await store.putDrain({ host: 'h1', tag, version: 'v1', until: '2026-01-01T00:01:00.000Z', reason: 'deploy 1' });
      const any = await store.putDrain({ host: 'h1', tag, version: null, until: '2026-01-01T00:03:00.000Z', reason: 'restart' });
      const b = await store.putDrain({ host: 'h2', tag, version: 'v1', until: '2026-01-01T00:02:00.000Z', reason: 'deploy 1' });
      // the same host, tag and version: the mark moves, its id stays
      const again = await store.putDrain({ host: 'h1', tag, version: 'v1', until: '2026-01-01T00:04:00.000Z', reason: 'deploy 2' });
      assert.equal(again, a);
      const anyAgain = await store.putDrain({ host: 'h1', tag, version: null, until: '2026-01-01T00:03:30.000Z', reason: 'restart' });
      assert.equal(anyAgain, any);
      assert.equal(new Set([a, any, b]).size, 3);

      assert.deepEqual(await store.listDrains(AT), [
        { id: a, host: 'h1', tag, version: 'v1', until: '2026-01-01T00:04:00.000Z', reason: 'deploy 2' },
        { id: any, host: 'h1', tag, version: null, until: '2026-01-01T00:03:30.000Z', reason: 'restart' },
        { id: b, host: 'h2', tag, version: 'v1', until: '2026-01-01T00:02:00.000Z', reason: 'deploy 1' },
      ]);
      // expired marks are not in force, and the sweep deletes exactly those
      assert.deepEqual(
        (await store.listDrains('2026-01-01T00:02:00.000Z')).map((d) => d.id),
        [a, any],
      );

      // null clears only the any-version mark; a version only its own
      assert.equal(await store.clearDrains({ host: 'h1', tag, version: null }), 1);
      assert.deepEqual(
        (await store.listDrains(AT)).map((d) => d.id),
        [a, b],
      );
      assert.equal(await store.clearDrains({ host: 'h1', tag, version: 'v9' }), 0);
      await store.putDrain({ host: 'h1', tag, version: 'v2', until: LATER, reason: '' });
      // no version: every version of (host, tag), and nothing of another host
      assert.equal(await store.clearDrains({ host: 'h1', tag }), 2);
      assert.deepEqual(
        (await store.listDrains(AT)).map((d) => d.id),
        [b],
      );

      await store.putDrain({ host: 'h3', tag, version: null, until: LATER, reason: '' });
      assert.equal(await store.sweepDrains('2026-01-01T00:02:00.000Z'), 1);
      assert.deepEqual(
        (await store.listDrains(AT)).map((d) => d.host),
        ['h3'],
      );
    });
  });

  it('keeps a mark of the replicas above a count beside the mark of every replica, and clears either alone', async () => {
    await using(open, async (store) => {
      const tag = 'cop.acme_service.shop_job.web_cluster.prod';
      const every = await store.putDrain({ host: 'h1', tag, version: null, until: LATER, reason: 'restart' });
      const above = await store.putDrain({ host: 'h1', tag, version: null, until: LATER, reason: 'scale to 1', above: 1 });
      assert.notEqual(above, every);
      assert.equal(await store.putDrain({ host: 'h1', tag, version: null, until: LATER, reason: 'scale to 1 again', above: 1 }), above);
      assert.deepEqual(await store.listDrains(AT), [
        { id: every, host: 'h1', tag, version: null, until: LATER, reason: 'restart' },
        { id: above, host: 'h1', tag, version: null, until: LATER, reason: 'scale to 1 again', above: 1 },
      ]);
      assert.equal(await store.clearDrains({ host: 'h1', tag, above: 1 }), 1);
      assert.deepEqual(
        (await store.listDrains(AT)).map((d) => d.id),
        [every],
      );
    });
  });

  it("keeps a mark of one process beside another process's and every process's, and clears one alone", async () => {
    await using(open, async (store) => {
      const tag = 'cop.acme_service.shop_job.web_cluster.prod';
      const every = await store.putDrain({ host: 'h1', tag, version: null, until: LATER, reason: 'deploy' });
      const web = await store.putDrain({ host: 'h1', tag, version: null, until: LATER, reason: 'restart web', process: 'web', pids: [7] });
      const api = await store.putDrain({ host: 'h1', tag, version: null, until: LATER, reason: 'restart api', process: 'api' });
      assert.equal(new Set([every, web, api]).size, 3);
      assert.equal(
        await store.putDrain({ host: 'h1', tag, version: null, until: LATER, reason: 'restart web again', process: 'web' }),
        web,
      );
      assert.deepEqual(
        (await store.listDrains(AT)).map((d) => [d.id, d.reason, d.process]),
        [
          [every, 'deploy', undefined],
          [web, 'restart web again', 'web'],
          [api, 'restart api', 'api'],
        ],
      );
      assert.equal(await store.clearDrains({ host: 'h1', tag, process: 'web' }), 1);
      assert.deepEqual(
        (await store.listDrains(AT)).map((d) => d.id),
        [every, api],
      );
    });
  });

  it("keeps a restart's pids with its mark, and a mark put again takes the new pids (none: every instance)", async () => {
    await using(open, async (store) => {
      const tag = 'cop.acme_service.shop_job.web_cluster.prod';
      const id = await store.putDrain({ host: 'h1', tag, version: null, until: LATER, reason: 'restart', pids: [41, 7] });
      assert.deepEqual(await store.listDrains(AT), [
        { id, host: 'h1', tag, version: null, until: LATER, reason: 'restart', pids: [41, 7] },
      ]);
      assert.equal(await store.putDrain({ host: 'h1', tag, version: null, until: LATER, reason: 'restart again', pids: [] }), id);
      assert.deepEqual((await store.listDrains(AT))[0]!.pids, []);
      await store.putDrain({ host: 'h1', tag, version: null, until: LATER, reason: 'restart, older server' });
      assert.equal((await store.listDrains(AT))[0]!.pids, undefined);
    });
  });

  it('keeps the newest report of each pool, none for an unknown pool, and deletes it with its pool', async () => {
    await using(open, async (store) => {
      await store.putBalancer(web);
      await store.putBalancer(edge);
      const first = JSON.stringify({ name: 'web', index: 1, ok: true, at: AT, members: [] });
      const second = JSON.stringify({ name: 'web', index: 2, ok: false, error: 'no socket', at: LATER, members: [] });
      assert.equal(await store.putBalancerReport('web', 'lb1', first, AT), true);
      assert.equal(await store.putBalancerReport('web', 'lb1', second, LATER), true);
      // an older one (from a server that heard the agent before) does not replace it
      assert.equal(await store.putBalancerReport('web', 'lb1', first, AT), false);
      assert.equal(await store.putBalancerReport('edge', 'lb1', first, AT), true);
      assert.equal(await store.putBalancerReport('gone', 'lb1', first, AT), false);
      assert.deepEqual(await store.listBalancerReports(), [
        { name: 'edge', host: 'lb1', report: first, at: AT },
        { name: 'web', host: 'lb1', report: second, at: LATER },
      ]);
      assert.deepEqual(JSON.parse((await store.listBalancerReports())[1]!.report).error, 'no socket');

      await store.deleteBalancer('web');
      assert.deepEqual(
        (await store.listBalancerReports()).map((r) => r.name),
        ['edge'],
      );
      // a pool set again starts with no report
      await store.putBalancer(web);
      assert.deepEqual(
        (await store.listBalancerReports()).map((r) => r.name),
        ['edge'],
      );
    });
  });

  it('a pool written in a transaction that fails is not kept', async () => {
    await using(open, async (store) => {
      await assert.rejects(
        store.tx(async (s) => {
          await s.putBalancer(web);
          await s.putDrain({ host: 'h1', tag: 'cop.acme', version: null, until: LATER, reason: '' });
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.deepEqual(await store.listBalancers(), []);
      assert.deepEqual(await store.listDrains(AT), []);
    });
  });
}

describe('balancers on sqlite', () => behaves(() => openStore('sqlite::memory:')));

describe('balancers on postgres', { skip: NEEDS_PG }, () => {
  const made: TestDatabase[] = [];
  after(async () => {
    await Promise.all(made.map((d) => d.drop()));
  });
  behaves(async () => {
    const db = await testDatabase('noops_lb');
    made.push(db);
    return openStore(db.url);
  });
});
