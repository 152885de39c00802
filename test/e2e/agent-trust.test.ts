/**
 * The agents know their server, and their state survives a crash (issue 12, docs/trust.md): a
 * real server and two real agents run a deployed app; then a corrupt state.json, a restored old
 * backup of the server's database, the right database put back, and an emptied database. Every
 * process keeps running with the same pid until an admin's `noops host adopt`, which says what
 * will stop or switch before it does it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, renameSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { HostView, InstanceView } from '../../src/api/index.js';
import { scanProcesses } from '../../src/agent/index.js';
import { procAlive } from '../../src/supervisor/index.js';
import {
  cleanup,
  cli,
  cliJson,
  freePort,
  killSupervised,
  makeAppRepo,
  startAgent,
  startServer,
  tmp,
  until,
  type Proc,
  type ServerProc,
} from './harness.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.trust_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const base = tmp('trust');
const data = join(base, 'server');
const db = join(data, 'noops.db');
const roots = { h1: join(base, 'agent-h1'), h2: join(base, 'agent-h2') };
let server: ServerProc;
let port: number;
const agents: Record<string, Proc> = {};

after(async () => {
  for (const a of Object.values(agents)) await a.stop();
  await server?.stop();
  for (const r of Object.values(roots)) killSupervised(r);
  cleanup([base]);
});

/** pid per host of the cluster's web process, as the hosts report them. */
async function pids(): Promise<Record<string, number | null>> {
  const rows = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
  return Object.fromEntries(rows.map((r) => [r.host, r.pid]));
}

/** The cluster's processes that really run on a host (group leaders of its root): never two. */
function running(host: 'h1' | 'h2'): number[] {
  const rel = join(roots[host], 'jobs', CLUSTER, 'releases');
  return scanProcesses()
    .filter((p) => p.pgrp === p.pid && p.env.NOOPS_TAG === CLUSTER && p.env.NOOPS_RELEASE_DIR?.startsWith(rel))
    .map((p) => p.pid);
}

/** Whether a process runs: a zombie does not (a container's PID 1 may never reap the orphans of a stopped agent). */
const alive = (pid: number): boolean => procAlive(pid, null);

const hosts = async (): Promise<Record<string, HostView>> =>
  Object.fromEntries((await cliJson<HostView[]>(server, ['hosts'])).map((h) => [h.name, h]));

async function restartServer(between: () => void): Promise<void> {
  await server.stop();
  between();
  server = await startServer(data, port);
}

/** Moves the database files aside (or away, with `to` undefined). */
function moveDb(to: string | undefined): void {
  for (const ext of ['', '-wal', '-shm']) {
    if (!existsSync(db + ext)) continue;
    if (to === undefined) rmSync(db + ext);
    else renameSync(db + ext, to + ext);
  }
}

test('agents refuse a replaced or older server database, keep running, and accept it once adopted', { timeout: 600_000 }, async (t) => {
  port = await freePort();
  server = await startServer(data, port);
  for (const h of ['h1', 'h2'] as const) agents[h] = startAgent(server, roots[h], h);
  await until('both hosts joined', async () => Object.keys(await hosts()).length === 2, 60_000);
  const repo = makeAppRepo(join(base, 'repo'));
  const deploy = async (greeting: string): Promise<string> => {
    const commit = repo.commit(greeting);
    const b = await cli(server, ['build', '-u', join(base, 'repo'), '-t', JOB, '-v', commit]);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    const d = await cli(server, ['deploy', '-t', CLUSTER, '-v', commit.slice(0, 9)]);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    return commit.slice(0, 9);
  };
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', 'h1,h2'])).code, 0);
  const v1 = await deploy('one');
  const before = await pids();
  assert.ok(before.h1 && before.h2, JSON.stringify(before));

  await t.test('a corrupt state.json: the agent adopts what runs (same pid, no second copy), the file moved aside', async () => {
    await agents.h1!.stop();
    writeFileSync(join(roots.h1, 'state.json'), '{"generation": 3, "instances": {"garb');
    agents.h1 = startAgent(server, roots.h1, 'h1');
    await until(
      'h1 moved its state aside',
      () => agents.h1!.output().includes('rebuilt the state: 1 instances, 1 running processes to adopt'),
      30_000,
    );
    await until('h1 reports again', async () => (await hosts()).h1?.trust?.state === 'accepted');
    await new Promise((r) => setTimeout(r, 1500)); // a few heartbeats: a second copy would have started by now
    assert.deepEqual(await pids(), before);
    assert.deepEqual(running('h1'), [before.h1]);
    assert.equal(readdirSync(roots.h1).filter((f) => f.startsWith('state.json.corrupt-')).length, 1);
    assert.match(agents.h1!.output(), /state\.json could not be read \(.*\); moved aside to .*state\.json\.corrupt-/);
  });

  // A backup taken after v1, the way an operator takes one of a live SQLite file.
  const backup = join(base, 'backup-v1.db');
  const live = new BetterSqlite3(db, { readonly: true });
  await live.backup(backup);
  live.close();
  const v2 = await deploy('two');
  const atV2 = await pids();
  assert.notEqual(atV2.h1, before.h1);

  await t.test('a restored old backup: no rollback of the fleet, the refusal in the log and in `noops hosts`', async () => {
    const current = join(base, 'current.db');
    await restartServer(() => {
      moveDb(current);
      copyFileSync(backup, db);
    });
    const hs = await until(
      'both hosts refuse',
      async () => {
        const h = await hosts();
        return h.h1?.trust?.state === 'refused' && h.h2?.trust?.state === 'refused' && h;
      },
      30_000,
    );
    assert.match(hs.h1!.trust!.reason!, /older than generation \d+ this agent applied: its database went back in time/);
    for (const h of ['h1', 'h2'] as const) {
      assert.match(
        agents[h]!.output(),
        /refuses the desired state at generation \d+: the server's desired state is at generation \d+, older than generation \d+/,
      );
      assert.ok(alive(atV2[h]!), `${h} still runs v2`);
      assert.deepEqual(running(h), [atV2[h]]);
    }
    const rows = await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER]);
    assert.deepEqual(
      rows.map((r) => r.version),
      [v2, v2],
      'the hosts report v2, which the old database never deployed',
    );
    // Adopting would roll h1 back: the server says so and does nothing without --yes.
    const adopt = await cli(server, ['host', 'adopt', 'h1']);
    assert.notEqual(adopt.code, 0);
    assert.match(adopt.stderr, new RegExp(`adopting h1 would make its agent switch ${CLUSTER} from ${v2} to ${v1}; nothing was changed`));

    // The right database put back: still refused (the same database went back in time once), adopted without a change.
    await restartServer(() => {
      moveDb(undefined);
      for (const ext of ['', '-wal', '-shm']) if (existsSync(current + ext)) renameSync(current + ext, db + ext);
    });
    await until('h1 refuses the database put back until adopted', async () => (await hosts()).h1?.trust?.state === 'refused', 30_000);
    for (const h of ['h1', 'h2']) {
      const r = await cli(server, ['host', 'adopt', h]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        new RegExp(
          `^${h}: adopted \\(its agent refused because .*\\); it applies this server's desired state at generation \\d+\\n  keeps    ${CLUSTER} ${v2}\\n$`,
        ),
      );
    }
    await until('both accept again', async () => {
      const h = await hosts();
      return h.h1?.trust?.state === 'accepted' && h.h2?.trust?.state === 'accepted';
    });
    assert.deepEqual(await pids(), atV2, 'nothing restarted');
    assert.match(
      agents.h1!.output(),
      /an admin adopted server .* for this host \(refusal .*\): applying its desired state at generation \d+, which stops nothing/,
    );
  });

  await t.test('an emptied database: every process keeps running, the agents say why; adopt says what stops, then stops it', async () => {
    await restartServer(() => moveDb(join(base, 'aside.db')));
    const hs = await until(
      'both hosts rejoined and refuse',
      async () => {
        const h = await hosts();
        return h.h1?.trust?.state === 'refused' && h.h2?.trust?.state === 'refused' && h;
      },
      30_000,
    );
    assert.match(
      hs.h2!.trust!.reason!,
      /^the server's database is another one \(identity .*; this agent follows .*\): it was replaced or emptied/,
    );
    assert.equal(hs.h2!.status, 'up', 'it heartbeats');
    for (const h of ['h1', 'h2'] as const) {
      assert.match(agents[h]!.output(), /joined the server again, but refuses its answers: the server's database is another one/);
      assert.ok(alive(atV2[h]!));
      assert.deepEqual(running(h), [atV2[h]]);
      assert.doesNotMatch(agents[h]!.output(), /: removed/);
    }
    const ask = await cli(server, ['host', 'adopt', 'h1']);
    assert.notEqual(ask.code, 0);
    assert.match(ask.stderr, new RegExp(`adopting h1 would make its agent stop ${CLUSTER} \\(${v2}\\); nothing was changed`));
    assert.ok(alive(atV2.h1!));
    const go = await cli(server, ['host', 'adopt', 'h1', '--yes']);
    assert.equal(go.code, 0, go.stderr);
    assert.match(go.stdout, new RegExp(`\\n  stops    ${CLUSTER} ${v2}\\n$`));
    await until('h1 stopped what the new database does not know', () => !alive(atV2.h1!), 20_000);
    assert.match(agents.h1!.output(), new RegExp(`which stops ${CLUSTER}`));
    assert.ok(alive(atV2.h2!), 'h2, not adopted, keeps running');
    const audit = await cliJson<{ action: string; target: string }[]>(server, ['audit']);
    assert.ok(audit.some((a) => a.action === 'host.adopt' && a.target === 'h1'));
  });
});
