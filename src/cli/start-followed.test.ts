/**
 * How the CLI starts a deployment it follows (`startFollowed`), against a real server over HTTP:
 * a large one as its summary (a few kB at any size), a small one whole (the headline names its
 * hosts, as before), and with --json whole at any size (scripts read it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiClient, isSummary } from '../api/index.js';
import { startTestApp, TREE, type TestApp } from '../server/test-app.js';
import { startFollowed } from './commands/deploy.js';
import { HEADLINE_HOSTS_MAX, headline } from './progress.js';

let t: TestApp;
let api: ApiClient;
const many = Array.from({ length: HEADLINE_HOSTS_MAX + 1 }, (_, i) => `h${String(i).padStart(2, '0')}`);

before(async () => {
  t = await startTestApp();
  for (const h of many) await t.agent(h);
  await t.release(TREE.JOB, 'abcdef001');
  await t.release(TREE.MAIL_JOB, 'bcdef0001');
  api = new ApiClient(t.url, t.adminToken);
});
after(() => t.close());

test('a large deployment starts as its summary, a small one whole; --json whole at any size', async () => {
  const large = `${TREE.JOB}_cluster.large`;
  const small = `${TREE.JOB}_cluster.small`;
  const scripted = `${TREE.JOB}_cluster.scripted`;
  await t.cluster(large, many);
  await t.cluster(small, many.slice(0, 2));
  await t.cluster(scripted, many);
  const policy = { batch: [1, HEADLINE_HOSTS_MAX] };

  const s = await startFollowed(api, { kind: 'deploy', req: { tag: large, version: 'abcdef001', policy } }, {});
  assert.ok(isSummary(s), 'the summary of a large deployment');
  assert.equal(s.hostCount, many.length);
  assert.equal(
    headline(s),
    `deploy #${s.id}: ${large} -> abcdef001 on ${many.length} host(s) in 2 batch(es) of 1, ${HEADLINE_HOSTS_MAX} host(s)`,
  );

  const w = await startFollowed(api, { kind: 'deploy', req: { tag: small, version: 'abcdef001', policy } }, {});
  assert.ok(!isSummary(w), 'a small deployment whole');
  assert.equal(headline(w), `deploy #${w.id}: ${small} -> abcdef001 on 2 host(s) in 2 batch(es): h00 | h01`);

  const j = await startFollowed(api, { kind: 'deploy', req: { tag: scripted, version: 'abcdef001', policy } }, { json: true });
  assert.ok(!isSummary(j) && j.hostCount === many.length && Object.keys(j.hostResults).length === many.length, 'with --json, whole');
  for (const id of [s.id, w.id, j.id]) await api.deploymentAction(id, 'abort');
});
