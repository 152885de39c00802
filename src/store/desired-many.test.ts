/**
 * setDesiredMany on both backends: SQLite in a temp dir, PostgreSQL when NOOPS_TEST_PG_URL is
 * set (a fresh database, dropped at the end).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DesiredRow, InstanceRow, Store } from './index.js';
import { openStore } from './open.js';

const PG_URL = process.env.NOOPS_TEST_PG_URL;
const TAG = 'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api_cluster.prod';
const OTHER = 'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api_cluster.b';
const row = (host: string, tag: string, version: string): DesiredRow => ({
  host,
  tag,
  version,
  sha256: `sha-${version}`,
  manifest: { processes: [] },
  deploymentId: 3,
  updatedAt: '2025-01-01T00:00:00.000Z',
  kind: null,
});

const inst = (host: string, process: string, version: string): InstanceRow => ({
  host,
  tag: TAG,
  process,
  version,
  state: 'up',
  pid: 1,
  port: null,
  restarts: 0,
  startedAt: null,
  error: null,
  container: null,
  address: null,
  updatedAt: '2025-01-01T00:00:00.000Z',
});

const backends: { name: string; skip: string | false; open(): Promise<Store>; cleanup(): Promise<void> }[] = [
  (() => {
    const dir = mkdtempSync(join(tmpdir(), 'noops-desired-many-'));
    let n = 0;
    return {
      name: 'sqlite',
      skip: false as const,
      open: () => openStore(`sqlite:${join(dir, `t${++n}`, 'noops.db')}`),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  })(),
  (() => {
    const created: string[] = [];
    const admin = async (q: string): Promise<void> => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      try {
        await c.query(q);
      } finally {
        await c.end();
      }
    };
    return {
      name: 'postgres',
      skip: PG_URL ? (false as const) : 'set NOOPS_TEST_PG_URL to run the PostgreSQL store tests',
      async open() {
        const name = `noops_t_${randomBytes(6).toString('hex')}`;
        await admin(`create database ${name}`);
        created.push(name);
        const url = new URL(PG_URL!);
        url.pathname = `/${name}`;
        return openStore(url.toString());
      },
      async cleanup() {
        // Best effort (see store.test.ts): a database another role still holds is left with a warning.
        for (const name of created) {
          await admin(`drop database if exists ${name} with (force)`).catch((err: Error) =>
            process.emitWarning(`could not drop test database ${name}: ${err.message}`),
          );
        }
      },
    };
  })(),
];

for (const backend of backends) {
  describe(`setDesiredMany on ${backend.name}`, { skip: backend.skip }, () => {
    after(() => backend.cleanup());

    it('sets and clears one tag on many hosts, bumping each generation once, other tags untouched', async () => {
      const s = await backend.open();
      try {
        await s.setDesired('h1', OTHER, row('h1', OTHER, 'v0'));
        await s.setDesiredMany(TAG, [
          { host: 'h1', row: row('h1', TAG, 'v1') },
          { host: 'h2', row: row('h2', TAG, 'v1') },
        ]);
        assert.deepEqual(await s.getDesired('h1'), { generation: 2, entries: [row('h1', OTHER, 'v0'), row('h1', TAG, 'v1')] });
        assert.deepEqual(await s.getDesired('h2'), { generation: 1, entries: [row('h2', TAG, 'v1')] });
        // a second change of the same hosts: update one, clear one, add a third
        await s.setDesiredMany(TAG, [
          { host: 'h1', row: row('h1', TAG, 'v2') },
          { host: 'h2', row: null },
          { host: 'h3', row: row('h3', TAG, 'v2') },
        ]);
        assert.deepEqual(await s.getDesired('h1'), { generation: 3, entries: [row('h1', OTHER, 'v0'), row('h1', TAG, 'v2')] });
        assert.deepEqual(await s.getDesired('h2'), { generation: 2, entries: [] });
        assert.deepEqual(
          (await s.listDesired(TAG)).map((d) => [d.host, d.version]),
          [
            ['h1', 'v2'],
            ['h3', 'v2'],
          ],
        );
        await s.setDesiredMany(TAG, []);
        assert.equal((await s.getDesired('h1')).generation, 3);
        assert.equal(await s.desiredGeneration('h1'), 3);
        assert.equal(await s.desiredGeneration('h2'), 2, 'a host whose entries are all cleared keeps its generation');
        assert.equal(await s.desiredGeneration('nobody'), 0);
      } finally {
        await s.close();
      }
    });

    it('generations asked in one turn are read in one statement, each its own host, and after a write its value', async () => {
      const s = await backend.open();
      try {
        await s.setDesiredMany(TAG, [
          { host: 'h1', row: row('h1', TAG, 'v1') },
          { host: 'h2', row: row('h2', TAG, 'v1') },
        ]);
        await s.setDesiredMany(TAG, [{ host: 'h2', row: row('h2', TAG, 'v2') }]);
        const statements: string[] = [];
        const seen = (m: unknown): void => void statements.push((m as { sql: string }).sql);
        subscribe('noops:store:statement', seen);
        let got: number[];
        try {
          got = await Promise.all(['h1', 'h2', 'nobody', 'h2'].map((h) => s.desiredGeneration(h)));
        } finally {
          unsubscribe('noops:store:statement', seen);
        }
        assert.deepEqual(got, [1, 2, 0, 2]);
        // the statement channel is SQLite's driver's (PostgreSQL's pool is not traced)
        if (backend.name === 'sqlite')
          assert.equal(statements.filter((q) => q.includes('desired_generation')).length, 1, statements.join('\n'));
        await s.setDesiredMany(TAG, [{ host: 'h1', row: row('h1', TAG, 'v3') }]);
        assert.equal(await s.desiredGeneration('h1'), 2, 'read after the write that raised it');
      } finally {
        await s.close();
      }
    });

    it('replaceInstancesMany replaces many hosts at once; a host with no rows ends with none', async () => {
      const s = await backend.open();
      try {
        await s.replaceInstances('h1', [inst('h1', 'web', 'v1'), inst('h1', 'worker', 'v1')]);
        await s.replaceInstances('h3', [inst('h3', 'web', 'v1')]);
        const many = Array.from({ length: 700 }, (_, i) => ({ host: `m${i}`, rows: [inst(`m${i}`, 'web', 'v2')] }));
        await s.replaceInstancesMany([{ host: 'h1', rows: [inst('h1', 'web', 'v2')] }, { host: 'h3', rows: [] }, ...many]);
        assert.deepEqual(
          (await s.listInstances({ host: 'h1' })).map((r) => [r.process, r.version]),
          [['web', 'v2']],
        );
        assert.deepEqual(await s.listInstances({ host: 'h3' }), []);
        assert.equal((await s.listInstances({ tag: TAG })).length, 701);
        await assert.rejects(s.replaceInstancesMany([{ host: 'h1', rows: [inst('h2', 'web', 'v3')] }]), /row of host h2 for host h1/);
        assert.deepEqual(
          (await s.listInstances({ host: 'h1' })).map((r) => r.version),
          ['v2'],
        );
      } finally {
        await s.close();
      }
    });

    it('more hosts than one statement holds, in one transaction; a wrong row changes nothing', async () => {
      const s = await backend.open();
      try {
        const hosts = Array.from({ length: 1203 }, (_, i) => `h${i}`);
        await s.setDesiredMany(
          TAG,
          hosts.map((host) => ({ host, row: row(host, TAG, 'v1') })),
        );
        assert.equal((await s.listDesired(TAG)).length, 1203);
        assert.equal((await s.getDesired('h1202')).generation, 1);
        await assert.rejects(
          s.setDesiredMany(TAG, [
            { host: 'h1', row: row('h1', TAG, 'v9') },
            { host: 'h2', row: row('h3', TAG, 'v9') },
          ]),
          /given a row for h3/,
        );
        assert.equal((await s.getDesired('h1')).entries[0]!.version, 'v1');
        assert.equal((await s.getDesired('h1')).generation, 1);
      } finally {
        await s.close();
      }
    });
  });
}
