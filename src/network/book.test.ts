/**
 * The book on both backends (SQLite in memory; PostgreSQL when NOOPS_TEST_PG_URL is set, a fresh
 * database per test): subnets given in order and kept, none without a pool, a new pool keeping
 * what fits and dropping the rest, every host's generation raised, two servers never giving one
 * subnet twice, a full pool refused.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalChangeBus } from '../bus/index.js';
import { NoopsError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { openStore } from '../store/open.js';
import { NEEDS_PG, testDatabase } from '../store/test-pg.js';
import { NetworkBook } from './book.js';
import { checkSpec } from './spec.js';

const AT = '2026-01-01T00:00:00.000Z';
const SPEC = checkSpec({ pool: '198.18.0.0/16', perHost: 24 });

const backends: { name: string; skip: string | false; open(): Promise<{ url: string; drop(): Promise<void> }> }[] = [
  {
    name: 'sqlite',
    skip: false,
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'noops-network-')); // a file: two stores open one database
      return { url: join(dir, 'noops.db'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  { name: 'postgres', skip: NEEDS_PG, open: () => testDatabase('noops_net') },
];

async function joinHosts(store: Store, ...hosts: string[]): Promise<void> {
  for (const name of hosts) await store.upsertHost({ name, labels: {}, address: null, joinedAt: AT });
}

for (const backend of backends) {
  describe(`the network book on ${backend.name}`, { skip: backend.skip }, () => {
    const opened: Store[] = [];
    const dbs: { drop(): Promise<void> }[] = [];
    after(async () => {
      for (const s of opened) await s.close();
      for (const d of dbs) await d.drop();
    });
    const fresh = async (): Promise<{ url: string; store: Store }> => {
      const db = await backend.open();
      dbs.push(db);
      const store = await openStore(db.url);
      opened.push(store);
      return { url: db.url, store };
    };

    it('no pool: no network; then subnets in order, kept, with their gateway; stored for the next server', async () => {
      const { store } = await fresh();
      await joinHosts(store, 'h1', 'h2', 'h3');
      const book = new NetworkBook({ store });
      assert.equal(book.knownNone, false, 'not read yet');
      assert.equal(await book.hostNetwork('h1'), undefined);
      assert.equal(book.knownNone, true, 'read: no pool, known without a read');
      assert.equal(await book.view(), undefined);
      const before = await store.desiredGeneration('h3');
      await book.set(SPEC, 'admin');
      assert.equal(book.knownNone, false, 'a pool was set');
      assert.equal(await store.desiredGeneration('h3'), before + 1, "every host's generation is raised: its agent hears of the pool");
      assert.deepEqual(await book.hostNetwork('h2'), {
        name: 'noops',
        subnet: '198.18.0.0/24',
        gateway: '198.18.0.1',
        driver: 'bridge',
        parent: null,
      });
      assert.equal((await book.hostNetwork('h1'))?.subnet, '198.18.1.0/24');
      assert.equal((await book.hostNetwork('h2'))?.subnet, '198.18.0.0/24', 'kept');
      assert.equal(book.knownNone, false, 'read again: a pool');
      const again = new NetworkBook({ store }); // another server, or this one restarted
      assert.equal((await again.hostNetwork('h1'))?.subnet, '198.18.1.0/24');
      assert.equal((await again.hostNetwork('h3'))?.subnet, '198.18.2.0/24');
      const view = await again.view((h) => h !== 'h3');
      assert.deepEqual(view && { ...view, updatedAt: '' }, {
        ...SPEC,
        hosts: [
          { host: 'h2', subnet: '198.18.0.0/24' },
          { host: 'h1', subnet: '198.18.1.0/24' },
        ],
        updatedAt: '',
      });
      const audit = await store.listAudit({ action: 'network.set' });
      assert.equal(audit.length, 1);
      await store.deleteHost('h2'); // `noops host rm`: its subnet is free, and the next host takes it
      await joinHosts(store, 'h4');
      assert.equal((await new NetworkBook({ store }).hostNetwork('h4'))?.subnet, '198.18.0.0/24');
    });

    it('a new pool keeps the subnets that fit and gives the others anew; one that moves a container is refused', async () => {
      const { store } = await fresh();
      await joinHosts(store, 'h1', 'h2');
      const bus = new LocalChangeBus();
      const book = new NetworkBook({ store, bus });
      let heard = 0;
      book.listen(() => heard++);
      await book.set(SPEC, 'admin');
      await book.hostNetwork('h1');
      await book.hostNetwork('h2');
      const wider = await book.set({ ...SPEC, pool: '198.18.0.0/15' }, 'admin');
      assert.deepEqual(wider, { keep: ['h1', 'h2'], drop: [], remake: false });
      assert.equal((await book.hostNetwork('h2'))?.subnet, '198.18.1.0/24');
      // h2 runs a container: a pool that moves it is refused, and nothing changes
      await store.replaceInstances('h2', [
        {
          host: 'h2',
          tag: 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod',
          process: 'web',
          version: 'v1',
          state: 'up',
          pid: null,
          port: 8080,
          restarts: 0,
          startedAt: AT,
          error: null,
          container: 'c0ffee',
          address: '198.18.1.2',
          updatedAt: AT,
        },
      ]);
      await assert.rejects(book.set({ ...SPEC, pool: '198.19.0.0/16' }, 'admin'), (err: unknown) => {
        return err instanceof NoopsError && err.code === 'NOOPS_E_NETWORK_IN_USE' && /h2/.test(err.message);
      });
      assert.equal((await book.view())?.pool, '198.18.0.0/15');
      // h1 runs none: a pool that keeps h2's subnet and drops h1's goes through
      const narrow = await book.set({ ...SPEC, pool: '198.18.1.0/24' }, 'admin');
      assert.deepEqual(narrow, { keep: ['h2'], drop: ['h1'], remake: false });
      assert.equal(heard, 3, 'each set told on the bus');
      await assert.rejects(book.hostNetwork('h1'), (err: unknown) => err instanceof NoopsError && err.code === 'NOOPS_E_NETWORK_FULL');
      assert.equal((await book.hostNetwork('h2'))?.subnet, '198.18.1.0/24');
    });

    it('two servers giving subnets at once never give one twice', async () => {
      const { url, store } = await fresh();
      const hosts = Array.from({ length: 24 }, (_, i) => `h${String(i).padStart(2, '0')}`);
      await joinHosts(store, ...hosts);
      await new NetworkBook({ store }).set(SPEC, 'admin');
      const other = await openStore(url);
      opened.push(other);
      const a = new NetworkBook({ store });
      const b = new NetworkBook({ store: other });
      // each host asks both servers at once (an agent failing over), and the servers race for the lowest subnets
      const answers = await Promise.all(hosts.flatMap((h) => [a.hostNetwork(h), b.hostNetwork(h)]));
      const byHost = new Map<string, string>();
      answers.forEach((n, i) => {
        const host = hosts[Math.floor(i / 2)]!;
        const seen = byHost.get(host);
        if (seen !== undefined) assert.equal(n?.subnet, seen, `${host} got one subnet from both servers`);
        byHost.set(host, n!.subnet);
      });
      assert.equal(new Set(byHost.values()).size, hosts.length, 'no subnet given twice');
      const stored = await store.networks.subnets();
      assert.deepEqual(stored.map((s) => s.subnet).sort(), [...byHost.values()].sort());
      assert.deepEqual(
        stored.map((s) => s.index).sort((x, y) => x - y),
        hosts.map((_, i) => i),
        'the lowest subnets, none skipped',
      );
    });
  });
}
