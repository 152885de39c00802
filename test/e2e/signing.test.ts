/**
 * Signed releases (issue 12, docs/trust.md#signed-releases): a real server and two real agents.
 * A deployed release verifies and runs; a release whose manifest is changed in the database is
 * refused at deploy (the old release keeps running, the reason names the signature); a package
 * changed in the artifact store is refused on every host, reported, and not fetched again and
 * again; an agent pinned to one server's key refuses a desired state signed by another key.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { DeploymentView, HostView, InstanceView, ReleaseView } from '../../src/api/index.js';
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

const JOB = 'cop.acme_owt.web_pdl.shop_service.sign_job.web';
const CLUSTER = `${JOB}_cluster.prod`;
const base = tmp('signing');
const data = join(base, 'server');
const roots = { h1: join(base, 'agent-h1'), h2: join(base, 'agent-h2') };
let server: ServerProc;
const agents: Record<string, Proc> = {};

after(async () => {
  for (const a of Object.values(agents)) await a.stop();
  await server?.stop();
  for (const r of Object.values(roots)) killSupervised(r);
  cleanup([base]);
});

const pids = async (): Promise<Record<string, { pid: number | null; version: string }>> =>
  Object.fromEntries(
    (await cliJson<InstanceView[]>(server, ['ps', '-t', CLUSTER])).map((r) => [r.host, { pid: r.pid, version: r.version }]),
  );
const hosts = async (): Promise<Record<string, HostView>> =>
  Object.fromEntries((await cliJson<HostView[]>(server, ['hosts'])).map((h) => [h.name, h]));
const releases = async (): Promise<Record<string, ReleaseView>> =>
  Object.fromEntries((await cliJson<ReleaseView[]>(server, ['releases', '-t', JOB])).map((r) => [r.version, r]));

test('signed releases: verified before they run; a changed manifest, a changed package and another key are refused', {
  timeout: 600_000,
}, async (t) => {
  const port = await freePort();
  server = await startServer(data, port);
  for (const h of ['h1', 'h2'] as const) agents[h] = startAgent(server, roots[h], h);
  await until('both hosts joined', async () => Object.keys(await hosts()).length === 2, 60_000);
  assert.equal((await cli(server, ['cluster', 'set', '-t', CLUSTER, '--hosts', 'h1,h2'])).code, 0);
  const repo = makeAppRepo(join(base, 'repo'));
  const build = async (greeting: string): Promise<string> => {
    const commit = repo.commit(greeting);
    const b = await cli(server, ['build', '-u', join(base, 'repo'), '-t', JOB, '-v', commit]);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    return commit.slice(0, 9);
  };
  // one batch: every host gets the release at once, so each one checks it
  const deploy = (version: string) => cli(server, ['deploy', '-t', CLUSTER, '-v', version, '--batch', '100%']);

  const v1 = await build('one');
  let before: Awaited<ReturnType<typeof pids>>;

  await t.test('a built release is signed, the agents pin the key at join, and a deployed release verifies and runs', async () => {
    const r = (await releases())[v1]!;
    assert.equal(r.signature.state, 'signed');
    assert.match(r.signature.keyId!, /^[0-9a-f]{16}$/);
    for (const h of ['h1', 'h2'] as const) {
      const identity = JSON.parse(readFileSync(join(roots[h], 'agent.json'), 'utf8')) as { signingKey?: { keyId: string } };
      assert.equal(identity.signingKey?.keyId, r.signature.keyId, `${h} pinned the server's key`);
    }
    const d = await deploy(v1);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    before = await pids();
    assert.deepEqual([before.h1?.version, before.h2?.version], [v1, v1]);
    assert.ok(before.h1?.pid && before.h2?.pid);
  });

  await t.test('a release whose manifest was changed in the database is refused at deploy; the old release keeps running', async () => {
    const v2 = await build('two');
    const db = new BetterSqlite3(join(data, 'noops.db'));
    const changed = db
      .prepare(
        `UPDATE releases SET manifest = replace(manifest, 'node server.js', 'touch /tmp/noops-pwned; node server.js') WHERE version = ?`,
      )
      .run(v2);
    db.close();
    assert.equal(changed.changes, 1);
    assert.equal((await releases())[v2]!.signature.state, 'invalid', '`noops releases` shows it');
    const d = await deploy(v2);
    assert.notEqual(d.code, 0, d.stdout + d.stderr);
    assert.match(
      d.stdout + d.stderr,
      /release [0-9a-f]{9} is refused, its signature does not verify: its signature \(key [0-9a-f]{16}\) does not match its job, version, sha256 and manifest/,
    );
    const dep = (await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER]))[0]!;
    assert.equal(dep.version, v2);
    assert.match(Object.values(dep.hostResults).join('\n'), /signature does not verify/);
    await until('both hosts report v1', async () => {
      const now = await pids();
      return now.h1?.version === v1 && now.h2?.version === v1 && now;
    });
    assert.deepEqual(await pids(), before, 'the same processes: nothing was stopped or switched');
    for (const h of ['h1', 'h2'] as const)
      assert.match(agents[h]!.output(), new RegExp(`${CLUSTER}: release ${v2} is refused, its signature does not verify`));
  });

  await t.test('a package changed in the artifact store is refused on every host, reported, and not fetched again and again', async () => {
    const v3 = await build('three');
    const sha = (await releases())[v3]!.sha256;
    const file = join(data, 'artifacts', sha.slice(0, 2), sha);
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.from('tampered')]));
    // One failure may pass, so the first host's refusal does not revert the other before it has
    // met the package itself: both hosts' results say why (the two failures fail the deploy).
    const d = await cli(server, ['deploy', '-t', CLUSTER, '-v', v3, '--batch', '100%', '--max-failures', '1']);
    assert.notEqual(d.code, 0, d.stdout + d.stderr);
    const dep = (await cliJson<DeploymentView[]>(server, ['history', '-t', CLUSTER]))[0]!;
    assert.equal(dep.version, v3);
    for (const h of ['h1', 'h2'] as const) {
      assert.match(
        dep.hostResults[h] ?? '',
        new RegExp(`a package of release ${v3} is refused: the downloaded package has sha256 [0-9a-f]{64}, expected ${sha}`),
        JSON.stringify(dep.hostResults),
      );
    }
    await new Promise((r) => setTimeout(r, 2000)); // a few heartbeats and polls
    for (const h of ['h1', 'h2'] as const) {
      const tries = agents[h]!.output()
        .split('\n')
        .filter((l) => l.includes(`cannot install ${v3}`)).length;
      assert.equal(tries, 1, `${h} fetched the changed package once`);
    }
    assert.deepEqual(await pids(), before, 'v1 keeps running, the same processes');
  });

  await t.test("an agent pinned to one server's key refuses a desired state signed by another key", async () => {
    // Another server on a copy of this database (same identity and tokens), with its own key: an
    // attacker's, or an operator's mistake. The database's record of the key is removed too,
    // since the server would refuse to start on a database signed with another key.
    const pinned = (await releases())[v1]!.signature.keyId!;
    await server.stop();
    const other = join(base, 'other-server');
    cpSync(data, other, { recursive: true });
    writeFileSync(join(other, 'signing.key'), generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }), {
      mode: 0o600,
    });
    const db = new BetterSqlite3(join(other, 'noops.db'));
    db.prepare(`DELETE FROM meta WHERE key = 'signing_key'`).run();
    db.close();
    server = await startServer(other, port);
    const hs = await until(
      'both hosts refuse',
      async () => {
        const h = await hosts();
        return h.h1?.trust?.state === 'refused' && h.h2?.trust?.state === 'refused' && h;
      },
      30_000,
    );
    assert.match(
      hs.h1!.trust!.reason!,
      new RegExp(`the server signs releases with key [0-9a-f]{16}, but this agent trusts key ${pinned}, pinned when it joined`),
    );
    for (const h of ['h1', 'h2'] as const) {
      assert.match(agents[h]!.output(), /refuses the desired state at generation \d+: the server signs releases with key/);
      const identity = JSON.parse(readFileSync(join(roots[h], 'agent.json'), 'utf8')) as { signingKey?: { keyId: string } };
      assert.equal(identity.signingKey?.keyId, pinned, `${h} keeps its pin`);
    }
    assert.deepEqual(await pids(), before, 'every process keeps running');
  });
});
