/** `noops root allow|deny|ls` against a real server in-process: the admin's only, idempotent, audited. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../api/index.js';
import type { TokenCreated } from '../../api/index.js';
import type { NoopsError } from '../../errors/index.js';
import { startServer } from '../index.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';

test('root grants: the server admin allows, lists and denies; a team admin gets 403; each change is audited', {
  timeout: 30_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-grants-'));
  const server = await startServer({ dataDir: dir, listen: '127.0.0.1:0' });
  try {
    const admin = new ApiClient(server.url, readFileSync(server.adminTokenFile, 'utf8').trim());
    const team = new ApiClient(
      server.url,
      (await admin.request<TokenCreated>('POST', '/tokens', { kind: 'team', name: 'web', scope: JOB, role: 'admin' })).token,
    );
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: NoopsError) => e.code,
      );

    assert.deepEqual(await admin.rootGrants(), []);
    assert.deepEqual(await Promise.all([code(team.allowRoot(JOB)), code(team.rootGrants()), code(team.denyRoot(JOB))]), [
      'NOOPS_E_FORBIDDEN',
      'NOOPS_E_FORBIDDEN',
      'NOOPS_E_FORBIDDEN',
    ]);
    assert.equal(await code(admin.denyRoot(JOB)), 'NOOPS_E_NOT_FOUND', 'nothing to deny');
    assert.equal(await code(admin.allowRoot('not a tag')), 'NOOPS_E_TAG_INVALID');

    const first = await admin.allowRoot(JOB);
    assert.deepEqual([first.scope, first.createdBy], [JOB, 'admin']);
    assert.deepEqual(await admin.allowRoot(JOB), first, 'allowing twice changes nothing');
    assert.deepEqual(await admin.rootGrants(), [first]);
    assert.deepEqual(await admin.denyRoot(JOB), first);
    assert.deepEqual(await admin.rootGrants(), []);

    const audit = (await admin.audit(50)).filter((a) => a.action.startsWith('root.'));
    assert.deepEqual(audit.map((a) => [a.action, a.target, a.actor]).sort(), [
      ['root.allow', JOB, 'admin'],
      ['root.deny', JOB, 'admin'],
    ]);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
