/**
 * `GET /servers` with two real servers (`startServer`, in this process) on one fresh PostgreSQL
 * database (NOOPS_TEST_PG_URL): both answer the same list, each marks itself, one leads the
 * rollouts; when that one stops, the other's list shows it leading within the lease. The typed
 * client is given both, as `--server URL1,URL2` gives them to the CLI.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, type ServerView } from '../../api/index.js';
import { startServer, type RunningServer } from '../index.js';
import { until } from '../test-app.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from '../../store/test-pg.js';

/** short, so the takeover after the leader stops is quick; a clean stop gives the lease up anyway */
const LEASE_MS = 2000;
let db: TestDatabase | undefined;
const dir = mkdtempSync(join(tmpdir(), 'noops-servers-'));
const running: RunningServer[] = [];

after(async () => {
  for (const s of running) await s.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

test('two servers on one PostgreSQL list each other, each marks itself, and the rollouts move when their leader stops', {
  skip: NEEDS_PG,
}, async () => {
  db = await testDatabase('noops_servers');
  const url = new URL(db.url);
  const opts = { listen: '127.0.0.1:0', db: url.toString(), buildSandbox: 'none' as const, log: () => {}, leaseMs: LEASE_MS };
  const a = await startServer({ ...opts, dataDir: join(dir, 'a'), serverId: 'srv-a', advertise: 'http://noops-a.example:7700' });
  running.push(a);
  cpSync(join(dir, 'a'), join(dir, 'b'), { recursive: true }); // the keys and tokens, as an operator copies them
  const b = await startServer({ ...opts, dataDir: join(dir, 'b'), serverId: 'srv-b' });
  running.push(b);
  const token = readFileSync(a.adminTokenFile, 'utf8').trim();
  const listOf = async (s: RunningServer): Promise<ServerView[]> => (await new ApiClient(s.url, token).serverList()).servers;

  const fromA = await listOf(a);
  const fromB = await listOf(b);
  assert.deepEqual(
    fromA.map((s) => [s.id, s.address, s.self]),
    [
      ['srv-a', 'http://noops-a.example:7700', true],
      ['srv-b', b.url, false],
    ],
  );
  assert.deepEqual(
    fromB.map((s) => [s.id, s.self]),
    [
      ['srv-a', false],
      ['srv-b', true],
    ],
  );
  // one of them leads the rollouts (A, which started alone, unless a stalled renewal moved it)
  const leaders = fromB.filter((s) => s.leads.includes('rollout')).map((s) => s.id);
  assert.equal(leaders.length, 1, JSON.stringify(fromB));
  assert.deepEqual(
    fromB.flatMap((s) => s.leads.filter((l) => l === 'rollout')),
    ['rollout'],
  );

  // a client given both servers (the CLI's --server URL1,URL2) gets the same list from either
  const both = new ApiClient([a.url, b.url], token);
  assert.deepEqual(
    (await both.serverList()).servers.map((s) => s.id),
    ['srv-a', 'srv-b'],
  );

  // the leader stops: the other leads the rollouts within the lease and a renewal, alone in the list
  const [leader, other] = leaders[0] === 'srv-a' ? [a, b] : [b, a];
  const otherId = leaders[0] === 'srv-a' ? 'srv-b' : 'srv-a';
  const stoppedAt = Date.now();
  await leader.close();
  running.splice(running.indexOf(leader), 1);
  let last: ServerView[] = [];
  await until(
    `${otherId} to lead the rollouts`,
    async () => {
      last = await listOf(other);
      return last.length === 1 && last[0]!.leads.includes('rollout');
    },
    5 * LEASE_MS,
    50,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last)}`);
  });
  assert.deepEqual(
    last.map((s) => [s.id, s.leads.filter((l) => l === 'rollout'), s.self]),
    [[otherId, ['rollout'], true]],
  );
  process.stdout.write(`# servers: ${otherId} listed as leading ${Date.now() - stoppedAt} ms after ${leaders[0]} began to stop\n`);
});
