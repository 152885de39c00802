/**
 * Two servers on one PostgreSQL database (issue 14): an agent and the CLI given both URLs keep
 * working when the server the agent used is stopped. Runs when NOOPS_TEST_PG_URL is set.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { HostView } from '../../src/api/index.js';
import { Agent } from '../../src/agent/index.js';
import { startServer, type RunningServer } from '../../src/server/index.js';
import { cleanup, cli, tmp, until } from './harness.js';

const PG_URL = process.env.NOOPS_TEST_PG_URL;
const base = tmp('server-list');
const dbName = `noops_e2e_${randomBytes(5).toString('hex')}`;
const servers: RunningServer[] = [];
let agent: Agent | undefined;

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

after(async () => {
  await agent?.stop();
  for (const s of servers) await s.close();
  if (PG_URL)
    await admin(`drop database if exists ${dbName} with (force)`).catch((err: Error) =>
      process.emitWarning(`could not drop ${dbName}: ${err.message}`),
    );
  cleanup([base]);
});

test('an agent and the CLI given two servers keep working when the one the agent used stops', {
  skip: PG_URL ? false : 'set NOOPS_TEST_PG_URL to run it',
  timeout: 120_000,
}, async () => {
  await admin(`create database ${dbName}`);
  const db = new URL(PG_URL!);
  db.pathname = `/${dbName}`;
  const [dataA, dataB] = [join(base, 'a'), join(base, 'b')];
  const opts = { listen: '127.0.0.1:0', db: db.toString(), heartbeatMs: 300, log: () => undefined };
  servers.push(await startServer({ ...opts, dataDir: dataA }));
  // Every server of one database signs with its key (docs/trust.md#signed-releases): copied, as the docs say.
  mkdirSync(dataB, { recursive: true, mode: 0o700 });
  copyFileSync(join(dataA, 'signing.key'), join(dataB, 'signing.key'));
  servers.push(await startServer({ ...opts, dataDir: dataB }));
  const [a, b] = servers as [RunningServer, RunningServer];
  const both = `${a.url},${b.url}`;
  const adminToken = readFileSync(a.adminTokenFile, 'utf8').trim();

  const lines: string[] = [];
  let reports = 0;
  agent = new Agent({
    server: both,
    joinToken: readFileSync(a.joinTokenFile, 'utf8').trim(),
    root: join(base, 'agent'),
    name: 'h1',
    labels: {},
    ctl: false,
    log: (line) => lines.push(line),
    observer: { reported: () => reports++ },
  });
  await agent.start();
  const joined = lines.find((l) => l.startsWith('joined '))?.slice('joined '.length);
  assert.ok(joined === a.url || joined === b.url, lines.join('\n'));
  const [used, other] = joined === a.url ? [a, b] : [b, a];

  const hosts = async (): Promise<HostView[]> => {
    const r = await cli({ url: both, adminToken }, ['hosts', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return JSON.parse(r.stdout) as HostView[];
  };
  await until('the host up', async () => (await hosts()).find((h) => h.name === 'h1')?.status === 'up');

  await used.close();
  const before = reports;
  await until('the agent moved to the other server', async () => lines.some((l) => l.endsWith(`now using ${other.url}`)));
  await until('reports reach the other server', async () => reports >= before + 3);
  // The CLI with both URLs, the first of which may be the stopped one, still answers; the host is up.
  await until('the host up through the other server', async () => (await hosts()).find((h) => h.name === 'h1')?.status === 'up');
  assert.ok(!lines.some((l) => l.includes('refuses')), `the other server is the same database: nothing refused\n${lines.join('\n')}`);
});
