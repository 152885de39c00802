/**
 * `BuildRunner` over an in-memory store and a real git repository: one build per job at a time,
 * what a build records (row, log, release, audit, node), and builds a previous server left running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { openStore } from '../store/open.js';
import { signerOf } from '../release/signing.js';
import { verifyRelease } from '../release/index.js';
import { StoredTree } from '../tree/stored-tree.js';
import { BuildRunner } from './runner.js';
import { Sandbox as BuildSandbox } from './sandbox-run.js';
import { Sandbox } from './test-repo.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';

test('two builds of one job run one after the other; the second keeps the release the first stored', async (t) => {
  const sb = await Sandbox.create();
  const store = await openStore('sqlite::memory:');
  t.after(async () => {
    await store.close();
    await sb.close();
  });
  const commit = await sb.repo.commit({ Procfile: 'web: ./server.sh\n', 'server.sh': '#!/bin/sh\n' });
  const signer = signerOf(generateKeyPairSync('ed25519').privateKey);
  const tree = new StoredTree(store);
  const runner = new BuildRunner(store, sb.artifacts, tree, join(sb.root, 'builds'), undefined, BuildSandbox.none(sb.root), signer);

  const first = await runner.start({ repo: sb.repo.dir, job: JOB, ref: 'main', initiator: 'alice' });
  const second = await runner.start({ repo: sb.repo.dir, job: JOB, ref: 'main', initiator: 'alice' });
  assert.equal(first.status, 'running');
  await runner.drain();

  const a = (await store.getBuild(first.id))!;
  const b = (await store.getBuild(second.id))!;
  assert.equal(a.status, 'succeeded', a.log);
  assert.equal(b.status, 'succeeded', b.log);
  const version = commit.slice(0, 9);
  assert.equal(a.version, version);
  assert.match(b.log, new RegExp(`^queued: waiting for build #${first.id} of ${JOB.replace(/\./g, '\\.')} to end`));
  assert.ok(Date.parse(b.startedAt) <= Date.parse(a.endedAt!), 'the second was queued while the first ran');
  assert.match(b.log, /exists already/);

  const release = (await store.getRelease(JOB, version))!;
  assert.equal(release.buildId, first.id);
  assert.equal(verifyRelease(signer.key, release, release.signature!), undefined, 'the stored release is signed');
  assert.ok(
    (await store.listNodes()).some((n) => n.tag === JOB),
    'the job node was made',
  );
  const actions = (await store.listAudit({})).map((e) => e.action);
  assert.deepEqual(actions.filter((x) => x.startsWith('build')).sort(), ['build', 'build', 'build.succeeded', 'build.succeeded']);
});

test('a failed build records its error; builds left running by a previous server are failed at start', async (t) => {
  const sb = await Sandbox.create();
  const store = await openStore('sqlite::memory:');
  t.after(async () => {
    await store.close();
    await sb.close();
  });
  const runner = new BuildRunner(
    store,
    sb.artifacts,
    new StoredTree(store),
    join(sb.root, 'builds'),
    undefined,
    BuildSandbox.none(sb.root),
  );
  await sb.repo.commit({ Procfile: 'web: ./server.sh\n' });
  const bad = await runner.start({ repo: sb.repo.dir, job: JOB, ref: 'no-such-ref', initiator: 'alice' });
  await runner.drain();
  const failed = (await store.getBuild(bad.id))!;
  assert.equal(failed.status, 'failed');
  assert.match(failed.log, /\nerror NOOPS_E_/);
  assert.match(JSON.parse(failed.error!).code, /^NOOPS_E_/);

  const left = await store.createBuild({
    repo: sb.repo.dir,
    job: JOB,
    ref: 'main',
    status: 'running',
    version: null,
    initiator: 'alice',
    startedAt: new Date().toISOString(),
    endedAt: null,
    log: '',
    error: null,
  });
  await runner.failInterrupted();
  const row = (await store.getBuild(left))!;
  assert.equal(row.status, 'failed');
  assert.equal(JSON.parse(row.error!).code, 'NOOPS_E_BUILD_FAILED');
  assert.match(row.log, /the server stopped while this build ran/);
});
