/**
 * A server started with `--build-sandbox container` (as root, with the Docker Engine): a build
 * through the API runs its steps in containers labelled with the build's id, its output reaches
 * the build's log, and no container of it is left. Skipped when not root or no engine answers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestRepo } from '../../build/test-repo.js';
import { startTestApp, TREE, until, type TestApp } from '../test-app.js';

/** The ids of the containers with these labels, from the docker CLI (the server may not import the engine module). */
function containers(...labels: string[]): string[] {
  const args = ['ps', '-aq', ...labels.flatMap((l) => ['--filter', `label=${l}`])];
  return execFileSync('docker', args, { encoding: 'utf8' }).split('\n').filter(Boolean);
}
const engine = (() => {
  try {
    containers('noops.owned=1');
    return true;
  } catch {
    return false;
  }
})();
const skip = process.getuid?.() !== 0 || !engine ? 'needs root and the Docker Engine' : false;

let t: TestApp | undefined;
const repoDir = mkdtempSync(join(tmpdir(), 'noops-ctr-repo-'));
before(async () => {
  if (!skip) t = await startTestApp({ buildSandbox: 'container' });
});
after(async () => {
  await t?.close();
  rmSync(repoDir, { recursive: true, force: true });
});

test('a build on a server with --build-sandbox container: its steps run in containers of the build, its log has their output', {
  skip,
}, async () => {
  const repo = await TestRepo.create(repoDir);
  await repo.commit({
    'noops.yaml': 'test: test -e /.dockerenv && echo "in-container uid=$(id -u)"\nprocesses:\n  web: { command: ./serve, port: 8080 }\n',
  });
  const deployer = await t!.team(TREE.WEB, 'deployer');
  const res = await t!.call(deployer, 'POST', '/api/v1/builds', { repo: repo.dir, tag: TREE.CLUSTER, ref: 'main' });
  assert.equal(res.statusCode, 202, res.body);
  const id: number = res.json().id;
  await until('the build to end', async () => (await t!.call(deployer, 'GET', `/api/v1/builds/${id}`)).json().build.status !== 'running');
  const done = (await t!.call(deployer, 'GET', `/api/v1/builds/${id}?logOffset=0`)).json();
  assert.equal(done.build.status, 'succeeded', done.log);
  assert.match(done.log, /^in-container uid=61\d{3}$/m);
  assert.deepEqual(containers('noops.owned=1', `noops.build=${id}`), [], 'no container of the build left');
});
