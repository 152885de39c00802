import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredInstance } from '../../api/index.js';
import { signRelease, signingKeyOf } from '../../release/index.js';
import { CronRunner } from '../../supervisor/index.js';
import type { ProcessSupervisor, ReleaseStore } from '../backends.js';
import { reconcile, type Failures } from '../reconcile.js';
import { checkRelease, KeyPin, VERIFIED_KEPT } from './signing.js';
import { loadIdentity, saveIdentity, type AgentState } from '../state.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';
const TAG = `${JOB}_cluster.prod`;
const key = generateKeyPairSync('ed25519').privateKey;
const pinned = signingKeyOf(key);

function signed(version: string, command = 'node server.js'): DesiredInstance {
  const manifest = { schema: 1, processes: [{ name: 'web', command, port: null }] } as unknown as DesiredInstance['manifest'];
  const d: DesiredInstance = { tag: TAG, version, sha256: 'c'.repeat(64), url: '/x', deploymentId: 1, kind: 'deploy', manifest };
  return { ...d, signature: signRelease(key, { job: JOB, version, sha256: d.sha256, manifest }) };
}

test('checkRelease: a signed release passes; a changed one, an unsigned one, one under another job, one by another key are refused', () => {
  assert.equal(checkRelease(pinned, signed('v00000001')), undefined);
  assert.equal(
    checkRelease(undefined, { ...signed('v00000001'), signature: undefined }),
    undefined,
    'nothing pinned: a server before signing',
  );
  const d = signed('v00000001');
  assert.match(
    checkRelease(pinned, { ...d, manifest: signed('v00000001', 'sh -c evil').manifest })!,
    /^release v00000001 is refused, its signature does not verify: .*does not match its job, version, sha256 and manifest/,
  );
  assert.match(checkRelease(pinned, { ...d, sha256: 'd'.repeat(64) })!, /does not match/);
  assert.match(checkRelease(pinned, { ...d, signature: undefined })!, /carries no signature/);
  assert.match(checkRelease(pinned, { ...d, tag: TAG.replace('job.web', 'job.other') })!, /does not match/);
  const other = generateKeyPairSync('ed25519').privateKey;
  assert.match(checkRelease(signingKeyOf(other), d)!, /not by key/);
});

test('reconcile: a release that does not verify is a failure, and nothing of it is installed or started', async () => {
  const root = mkdtempSync(join(tmpdir(), 'noops-signing-'));
  try {
    const installs: string[] = [];
    const started: string[] = [];
    const releases: ReleaseStore = {
      install: async (o) => {
        installs.push(o.version);
        return { downloaded: true };
      },
      activate: () => {},
      prune: async () => {},
    };
    const supervisor = {
      start: (s: { id: string }) => {
        started.push(s.id);
        return {};
      },
      status: () => undefined,
      stop: async () => {},
      forget: () => 0,
    } as unknown as ProcessSupervisor;
    const failures: Failures = new Map();
    const state: AgentState = { generation: 0, instances: {} };
    const deps = {
      root,
      supervisor,
      crons: new CronRunner(),
      releases,
      download: async () => {},
      save: () => {},
      log: () => {},
      verify: (d: DesiredInstance) => checkRelease(pinned, d),
    };
    const bad = { ...signed('v00000002'), manifest: signed('v00000002', 'sh -c evil').manifest };
    await reconcile(deps, state, [bad], failures);
    assert.deepEqual(installs, []);
    assert.deepEqual(started, []);
    assert.match(failures.get(TAG)!.error, /release v00000002 is refused, its signature does not verify/);
    await reconcile(deps, state, [signed('v00000003')], failures);
    assert.deepEqual(installs, ['v00000003']);
    assert.equal(failures.size, 0);
    // the running release's manifest is not replaced by a changed one of the same version
    const running = state.instances[TAG]!.desired.manifest;
    await reconcile(deps, state, [{ ...signed('v00000003'), manifest: signed('v00000003', 'sh -c evil').manifest }], failures);
    assert.deepEqual(state.instances[TAG]!.desired.manifest, running);
    assert.match(failures.get(TAG)!.error, /refused/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('KeyPin: kept in agent.json beside the token, the id computed by the agent', () => {
  const root = mkdtempSync(join(tmpdir(), 'noops-pin-'));
  try {
    saveIdentity(root, { server: 'http://s', name: 'h1', token: 't' });
    assert.equal(new KeyPin(root).key, undefined);
    new KeyPin(root).pin({ keyId: 'forged', publicKey: pinned.publicKey });
    assert.deepEqual(loadIdentity(root), { server: 'http://s', name: 'h1', token: 't', signingKey: pinned });
    assert.deepEqual(new KeyPin(root).key, pinned);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('KeyPin.check remembers what verified, and never a release changed after it was signed', () => {
  const root = mkdtempSync(join(tmpdir(), 'noops-pin-'));
  try {
    saveIdentity(root, { server: 'http://s', name: 'h1', token: 't' });
    const pin = new KeyPin(root);
    const d = signed('v00000001');
    assert.equal(pin.check(d), undefined, 'nothing pinned yet');
    pin.pin(pinned);
    assert.equal(pin.check(d), undefined);
    assert.equal(pin.check(d), undefined, 'remembered');
    // everything the signature covers, and the signature, changed one at a time
    const evil = signed('v00000001', 'sh -c evil');
    assert.match(pin.check({ ...d, manifest: evil.manifest })!, /does not match/);
    assert.match(pin.check({ ...d, sha256: 'd'.repeat(64) })!, /does not match/);
    assert.match(pin.check({ ...d, version: 'v00000002' })!, /does not match/);
    assert.match(pin.check({ ...d, tag: TAG.replace('job.web', 'job.other') })!, /does not match/);
    assert.match(pin.check({ ...d, signature: evil.signature })!, /does not match/);
    assert.match(pin.check({ ...d, signature: undefined })!, /carries no signature/);
    // more releases than it keeps: each still verifies, the first again too
    for (let i = 2; i <= VERIFIED_KEPT + 2; i++) assert.equal(pin.check(signed(`v${String(i).padStart(8, '0')}`)), undefined);
    assert.equal(pin.check(d), undefined);
    // another key pinned (an adoption): what the old key verified is checked again, and refused
    pin.pin(signingKeyOf(generateKeyPairSync('ed25519').privateKey));
    assert.match(pin.check(d)!, /not by key/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
