/**
 * Limits with clear errors, and a store that never blocks the server (issue 12), end to end:
 * a real server and agent from bin/noops. Oversized and flooding reports, an oversized build
 * log, two builds of one job at once, a package that unpacks past a host's cap, the SQLite file
 * held by another process, and the data folder's permissions.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { BuildProgress, InstanceView } from '../../src/api/index.js';
import { API_PREFIX } from '../../src/api/index.js';
import {
  cleanup,
  cli,
  cliJson,
  type CliResult,
  freePort,
  killSupervised,
  makeAppRepo,
  ROOT,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.limits';
const CLUSTER = `${JOB}_cluster.prod`;
/** What the agent of this test unpacks at most (NOOPS_PACKAGE_MAX_BYTES): 1 MB. */
const HOST_MAX_BYTES = 1_000_000;

const base = tmp('limits');
const data = join(base, 'server');
const root = join(base, 'agent-h1');
let server: ServerProc;
let agent: Proc;

after(async () => {
  await agent?.stop();
  await server?.stop();
  killSupervised(root);
  cleanup([base]);
});

function api(path: string, init: { method?: string; body?: unknown; token?: string; raw?: string } = {}): Promise<Response> {
  const body = init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
  return fetch(`${server.url}${API_PREFIX}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${init.token ?? server.adminToken}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body,
  });
}

/** The server process's resident memory, in bytes (Linux). */
function rss(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

test('limits with clear errors; a store that never blocks', { timeout: 300_000 }, async (t) => {
  // A data folder someone made open to all, with a database file to match: the server tightens both.
  mkdirSync(data, { recursive: true });
  chmodSync(data, 0o755);
  writeFileSync(join(data, 'notes.txt'), 'left by hand\n', { mode: 0o644 });
  chmodSync(join(data, 'notes.txt'), 0o644);
  server = await startServer(data, await freePort());
  agent = startAgent(server, root, 'h1', 'rack=r1', { NOOPS_PACKAGE_MAX_BYTES: String(HOST_MAX_BYTES) });
  await until('h1 up', async () => (await cliJson<{ name: string; status: string }[]>(server, ['hosts'])).some((h) => h.status === 'up'));

  await t.test('the data folder is 0700 and its files 0600', () => {
    const mode = (p: string): number => statSync(p).mode & 0o777;
    assert.equal(mode(data), 0o700);
    for (const f of ['notes.txt', 'noops.db', 'admin.token', 'join.token']) assert.equal(mode(join(data, f)), 0o600, f);
  });

  // A second agent identity, driven by hand: its reports are the ones refused.
  const joined = (await (
    await api('/agent/join', { method: 'POST', body: { name: 'flood1', labels: {} }, token: server.joinToken })
  ).json()) as { token: string };

  await t.test("oversized reports: 413 NOOPS_E_REPORT_TOO_LARGE, nothing stored, the server's memory does not jump", async () => {
    const big = JSON.stringify({ processes: [], failures: [{ tag: CLUSTER, version: 'v', error: 'e'.repeat(3_900_000) }], generation: 0 });
    const before = rss();
    for (let i = 0; i < 20; i++) {
      const res = await api('/agent/report', { method: 'POST', raw: big, token: joined.token });
      assert.equal(res.status, 413);
      assert.equal(((await res.json()) as { code: string }).code, 'NOOPS_E_REPORT_TOO_LARGE');
    }
    await new Promise((r) => setTimeout(r, 1000));
    const grew = rss() - before;
    t.diagnostic(
      `RSS before ${(before / 2 ** 20).toFixed(1)} MiB, after twenty 3.9 MB reports ${((before + grew) / 2 ** 20).toFixed(1)} MiB`,
    );
    // Twenty such reports took the server from 184 to 356 MB (+172) before the limit, as each
    // was parsed and kept. Now none is parsed or kept; what remains is the garbage of reading
    // and discarding the bodies (so that the agent reads its 413), which GC returns lazily.
    assert.ok(grew < 64 * 2 ** 20, `the server grew ${(grew / 2 ** 20).toFixed(1)} MiB`);
    const hosts = (await (await api('/hosts')).json()) as { name: string; lastHeartbeat: string | null }[];
    assert.equal(hosts.find((h) => h.name === 'flood1')?.lastHeartbeat, null, 'no report of flood1 was taken');
  });

  await t.test('a flood of reports: 429 NOOPS_E_RATE_LIMITED with Retry-After; the real agent goes on', async () => {
    const small = JSON.stringify({ processes: [], failures: [], generation: 0 });
    const answers = await Promise.all(
      Array.from({ length: 150 }, () => api('/agent/report', { method: 'POST', raw: small, token: joined.token })),
    );
    const limited = answers.filter((a) => a.status === 429);
    t.diagnostic(`${limited.length} of 150 reports at once refused`);
    assert.ok(limited.length >= 50, `${limited.length} refused`);
    assert.ok(Number(limited[0]!.headers.get('retry-after')) >= 1);
    assert.equal(((await limited[0]!.json()) as { code: string }).code, 'NOOPS_E_RATE_LIMITED');
    await until(
      'h1 still up',
      async () => (await cliJson<{ name: string; status: string }[]>(server, ['hosts'])).find((h) => h.name === 'h1')?.status === 'up',
    );
  });

  const repo = join(base, 'repo');
  const app = makeAppRepo(repo);

  await t.test('an oversized build log: capped, head and tail kept with a marker, the database stays small', async () => {
    // 3.2 MB of output: 40,000 numbered lines of 80 characters. (The build itself, src/build's
    // BUILD_LOG_LIMIT, drops what a build prints past 4 MiB, tail included; under that, the store
    // keeps the head and the tail.)
    const c = app.commit('loud build', {
      'noops.yaml': 'build: node loud.js\n',
      'loud.js': `const line = (i) => 'line ' + String(i).padStart(8, '0') + ' ' + 'x'.repeat(66) + '\\n';
let chunk = ''; for (let i = 0; i < 40000; i++) { chunk += line(i); if (chunk.length > 1 << 20) { process.stdout.write(chunk); chunk = ''; } }
process.stdout.write(chunk + 'LAST LINE\\n');
`,
    });
    const started = Date.now();
    const r = await cli(server, ['build', '-u', `file://${repo}`, '-t', JOB, '-v', c]);
    assert.equal(r.code, 0, r.stderr);
    t.diagnostic(`a build printing 3.2 MB took ${Date.now() - started} ms`);
    const id = Number(/build #(\d+)/.exec(r.stdout)![1]);
    const { log } = (await (await api(`/builds/${id}`)).json()) as BuildProgress;
    assert.match(log, /line 00000000 x/, 'the head is kept');
    assert.match(log, /LAST LINE/, 'the tail is kept');
    assert.match(log, /\[\.\.\. \d+ characters of this log were cut here/);
    assert.ok(log.length < 1.5 * 2 ** 20, `${log.length} characters kept`);
    assert.match(r.stdout, /characters of this log were cut here/, 'noops build said so too');
    const files = ['noops.db', 'noops.db-wal'].map((f) => {
      try {
        return statSync(join(data, f)).size;
      } catch {
        return 0;
      }
    });
    t.diagnostic(`noops.db ${files[0]} bytes, WAL ${files[1]} bytes`);
    const dbBytes = ['noops.db', 'noops.db-wal'].reduce((n, f) => {
      try {
        return n + statSync(join(data, f)).size;
      } catch {
        return n;
      }
    }, 0);
    t.diagnostic(`database and WAL: ${(dbBytes / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(dbBytes < 16 * 2 ** 20, `the database is ${dbBytes} bytes`);
  });

  await t.test('two builds of one job at once: the second waits and says so, both end, never both running', async () => {
    // The first build ends when the test opens a gate, once the second is queued behind it: a build
    // of a fixed 2 s, with the second started 300 ms later, ended first on a loaded machine.
    let gateOpen = false;
    let asked = false;
    const gate = createServer((_req, res) => {
      asked = true;
      res.writeHead(gateOpen ? 200 : 503).end();
    });
    await new Promise<void>((r) => gate.listen(0, '127.0.0.1', r));
    const slow = `const http = require('http'); const end = Date.now() + 120000;
const ask = () => http.get('http://127.0.0.1:${(gate.address() as AddressInfo).port}/', (res) => { res.resume(); if (res.statusCode === 200) console.log('slow build done'); else if (Date.now() > end) process.exit(1); else setTimeout(ask, 50); }).on('error', () => setTimeout(ask, 50));
ask();
`;
    const c = app.commit('slow build', { 'noops.yaml': 'build: node slow.js\n', 'slow.js': slow });
    const build = (): Promise<CliResult> => cli(server, ['build', '-u', `file://${repo}`, '-t', JOB, '-v', c]);
    const started = [build()];
    try {
      await until('the first build running', () => asked, 60_000, 50);
      let last = 0; // the first build is the newest one
      while ((await api(`/builds/${last + 1}`)).status === 200) last++;
      started.push(build());
      await until(
        'the second build queued',
        async () => ((await (await api(`/builds/${last + 1}`)).json()) as BuildProgress).log?.includes('queued: waiting'),
        60_000,
      );
    } finally {
      gateOpen = true;
    }
    const [a, b] = (await Promise.all(started)) as [CliResult, CliResult];
    gate.close();
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const first = Number(/build #(\d+)/.exec(a.stdout)![1]);
    assert.match(b.stdout, new RegExp(`queued: waiting for build #${first} of ${JOB} to end`), 'noops build says it waits');
    const startsAt = /this build starts at (\S+)/.exec(b.stdout)![1]!;
    const firstView = ((await (await api(`/builds/${first}`)).json()) as BuildProgress).build;
    assert.ok(firstView.endedAt! <= startsAt, `the second started at ${startsAt}, after the first ended at ${firstView.endedAt}`);
  });

  await t.test("a package that unpacks past the host's cap: refused on the host, the running release untouched", async () => {
    const small = app.commit('small v1', { 'noops.yaml': 'build: []\n' });
    const v1 = small.slice(0, 9);
    assert.equal((await cli(server, ['build', '-u', `file://${repo}`, '-t', JOB, '-v', small])).code, 0);
    assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', 'h1'])).code, 0);
    const d1 = await cli(server, ['deploy', '-t', CLUSTER, '-v', v1]);
    assert.equal(d1.code, 0, d1.stdout + d1.stderr);
    const [running] = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);

    // 2 MB of zeros: a package of a few KB that unpacks past the host's 1 MB.
    writeFileSync(join(repo, 'zeros.bin'), Buffer.alloc(2_000_000));
    const big = app.commit('big v2');
    const v2 = big.slice(0, 9);
    assert.equal((await cli(server, ['build', '-u', `file://${repo}`, '-t', JOB, '-v', big])).code, 0);
    const d2 = await cli(server, ['deploy', '-t', CLUSTER, '-v', v2]);
    assert.notEqual(d2.code, 0, 'the deploy fails');
    assert.match(d2.stdout + d2.stderr, /NOOPS_E_PACKAGE_TOO_LARGE|unpacks to \d+ bytes/);
    const after = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
    assert.deepEqual(
      after.map((p) => [p.version, p.state, p.pid]),
      [[v1, 'up', running!.pid]],
      'v1 runs on, the same process',
    );
    const answer = (await (await fetch(`http://127.0.0.1:${running!.port}/`)).json()) as { greeting: string };
    assert.equal(answer.greeting, 'small v1');
  });

  await t.test(
    'the SQLite file held by another process for 5 s: reads answer at once, a write waits and lands, no heartbeat is lost',
    async () => {
      const db = join(data, 'noops.db');
      // Another process (a backup, `sqlite3` at a console) takes the write lock and holds it 5 s.
      const holder = spawn(
        process.execPath,
        [
          '-e',
          `
      const db = new (require('better-sqlite3'))(${JSON.stringify(db)});
      db.exec('begin exclusive');
      process.stdout.write('locked\\n');
      setTimeout(() => { db.exec('commit'); db.close(); process.stdout.write('released\\n'); }, 5000);
    `,
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let said = '';
      holder.stdout.on('data', (b: Buffer) => {
        said += b.toString();
      });
      await until('the lock taken', () => said.includes('locked'), 10_000, 20);
      const lockedAt = Date.now();

      const put = (async () => {
        const t0 = Date.now();
        const res = await api('/clusters', { method: 'PUT', body: { tag: `${JOB}_cluster.locked`, hosts: ['h1'] } });
        return { status: res.status, body: (await res.json()) as { code?: string }, ms: Date.now() - t0, at: Date.now() };
      })();
      const reads: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        const res = await api('/whoami');
        assert.equal(res.status, 200);
        reads.push(Date.now() - t0);
        // a read that waited for the lock would answer only after the holder let go of it
        if (i === 0) assert.ok(!said.includes('released'), `GET /whoami answered while the lock was held (${reads[0]} ms)`);
        const hosts = await api('/hosts');
        assert.equal(hosts.status, 200);
        await new Promise((r) => setTimeout(r, 400));
      }
      t.diagnostic(`GET /whoami during the lock: ${reads.join(', ')} ms`);
      // How fast is a figure for the benchmarks, which a loaded machine must not fail here.

      const w = await put;
      await until('the lock released', () => said.includes('released'), 10_000, 20);
      t.diagnostic(`PUT /clusters during the lock: ${w.status} after ${w.ms} ms`);
      if (w.status === 200) assert.ok(w.at - lockedAt >= 4000, 'it landed once the lock was gone');
      else assert.deepEqual([w.status, w.body.code], [503, 'NOOPS_E_STORE_BUSY'], 'or failed with a clear, retryable error');

      // The heartbeats of the locked seconds were kept and written: h1's stored time moves past the lock.
      const releasedAt = Date.now();
      await until(
        "h1's stored heartbeat after the lock",
        () => {
          const reader = new BetterSqlite3(db, { readonly: true });
          try {
            const row = reader.prepare('select last_heartbeat from hosts where name = ?').get('h1') as { last_heartbeat: string };
            return Date.parse(row.last_heartbeat) >= releasedAt - 1000;
          } finally {
            reader.close();
          }
        },
        10_000,
      );
      assert.doesNotMatch(server.output(), /NOOPS_E_INTERNAL|noops server: .*Error/, "no 500 in the server's log");
    },
  );
});
