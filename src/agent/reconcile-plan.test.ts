import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredInstance } from '../api/index.js';
import { processDefaults } from '../release/index.js';
import { planReconcile, type ActualState } from './reconcile-plan.js';

const WEB = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const API = 'cop.acme_owt.web_pdl.shop_service.api_job.api_cluster.prod';
const OLD = 'cop.acme_owt.web_pdl.shop_service.api_job.old_cluster.prod';
const SHA = 'a'.repeat(64);

function desired(tag: string, version: string, sha256 = SHA): DesiredInstance {
  return {
    tag,
    version,
    sha256,
    url: '/api/v1/artifacts/x',
    deploymentId: 1,
    kind: 'deploy',
    manifest: {
      schema: 1,
      job: tag,
      version,
      commit: version,
      repo: 'r',
      builtAt: '',
      stack: 'procfile',
      env: {},
      processes: [processDefaults('web', { command: 'node s.js' }), processDefaults('worker', { command: 'node w.js' })],
    },
  };
}

function actual(o: Partial<ActualState> = {}): ActualState {
  return { instances: {}, failed: {}, supervised: new Set(), ...o };
}

test('a fresh host: every desired release is switched to, in the order given', () => {
  assert.deepEqual(planReconcile([desired(WEB, 'v1'), desired(API, 'v7')], actual()), [
    { do: 'switch', tag: WEB, from: null, to: 'v1' },
    { do: 'switch', tag: API, from: null, to: 'v7' },
  ]);
});

test('instances no longer desired are removed first; a new version is switched to', () => {
  const a = actual({ instances: { [OLD]: { version: 'v3', sha256: SHA }, [WEB]: { version: 'v1', sha256: SHA } } });
  assert.deepEqual(planReconcile([desired(WEB, 'v2')], a), [
    { do: 'remove', tag: OLD },
    { do: 'switch', tag: WEB, from: 'v1', to: 'v2' },
  ]);
});

test('the release already running is kept; only the processes the supervisor lacks are started', () => {
  const running = { [WEB]: { version: 'v1', sha256: SHA } };
  assert.deepEqual(planReconcile([desired(WEB, 'v1')], actual({ instances: running, supervised: new Set([`${WEB}/web`]) })), [
    { do: 'keep', tag: WEB, version: 'v1', start: ['worker'] },
  ]);
  assert.deepEqual(
    planReconcile([desired(WEB, 'v1')], actual({ instances: running, supervised: new Set([`${WEB}/web`, `${WEB}/worker`]) })),
    [{ do: 'keep', tag: WEB, version: 'v1', start: [] }],
  );
});

test('the same version with another sha256 is another release: switched to', () => {
  const a = actual({ instances: { [WEB]: { version: 'v1', sha256: SHA } } });
  assert.deepEqual(planReconcile([desired(WEB, 'v1', 'b'.repeat(64))], a), [{ do: 'switch', tag: WEB, from: 'v1', to: 'v1' }]);
});

test('the version that failed is left alone (the server decides); a failure of another version is forgotten', () => {
  const a = actual({ instances: { [WEB]: { version: 'v1', sha256: SHA } }, failed: { [WEB]: 'v2', [API]: 'v6' } });
  assert.deepEqual(planReconcile([desired(WEB, 'v2'), desired(API, 'v7')], a), [
    { do: 'forget-failure', tag: API, version: 'v6' },
    { do: 'switch', tag: API, from: null, to: 'v7' },
  ]);
});

test('a release whose signature is refused is never installed, kept or run; verify is not asked about a failed version', () => {
  const asked: string[] = [];
  const verify = (d: DesiredInstance): string | undefined => {
    asked.push(d.tag);
    return d.tag === WEB ? 'its signature does not verify' : undefined;
  };
  const a = actual({ instances: { [WEB]: { version: 'v1', sha256: SHA } }, failed: { [OLD]: 'v3' } });
  assert.deepEqual(planReconcile([desired(WEB, 'v1'), desired(API, 'v7'), desired(OLD, 'v3')], a, verify), [
    { do: 'refuse', tag: WEB, version: 'v1', reason: 'its signature does not verify' },
    { do: 'switch', tag: API, from: null, to: 'v7' },
  ]);
  assert.deepEqual(asked, [WEB, API]);
});

test('nothing desired: every instance is removed, and nothing else', () => {
  const a = actual({
    instances: { [WEB]: { version: 'v1', sha256: SHA }, [API]: { version: 'v7', sha256: SHA } },
    failed: { [WEB]: 'v1' },
  });
  assert.deepEqual(planReconcile([], a), [
    { do: 'remove', tag: WEB },
    { do: 'remove', tag: API },
  ]);
});

test('replicas: a keep starts the missing copies (web@2, ...) and stops those a lower count no longer wants', () => {
  const running = { [WEB]: { version: 'v1', sha256: SHA } };
  const ids = (...names: string[]): Set<string> => new Set(names.map((n) => `${WEB}/${n}`));
  assert.deepEqual(
    planReconcile([{ ...desired(WEB, 'v1'), replicas: 3 }], actual({ instances: running, supervised: ids('web', 'worker') })),
    [{ do: 'keep', tag: WEB, version: 'v1', start: ['web@2', 'web@3', 'worker@2', 'worker@3'] }],
  );
  assert.deepEqual(
    planReconcile(
      [{ ...desired(WEB, 'v1'), replicas: 2 }],
      actual({ instances: running, supervised: ids('web', 'web@2', 'web@3', 'worker', 'worker@2', 'worker@3') }),
    ),
    [{ do: 'keep', tag: WEB, version: 'v1', start: [], stop: ['web@3', 'worker@3'] }],
  );
  // back to one (replicas absent): only the first copies stay; another tag's processes are not touched
  const other = `${API}/web@2`;
  assert.deepEqual(
    planReconcile([desired(WEB, 'v1')], actual({ instances: running, supervised: new Set([...ids('web', 'web@2', 'worker'), other]) })),
    [{ do: 'keep', tag: WEB, version: 'v1', start: [], stop: ['web@2'] }],
  );
});
