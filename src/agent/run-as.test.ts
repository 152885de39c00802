import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NoopsError } from '../errors/index.js';
import { identityFor, type RunAs } from '../supervisor/index.js';
import { hostUsers, processUser } from './run-as.js';

/** A host's user database, as getent would answer it. */
const USERS: Record<string, RunAs> = {
  root: { name: 'root', uid: 0, gid: 0, home: '/root' },
  '0': { name: 'root', uid: 0, gid: 0, home: '/root' },
  toor: { name: 'toor', uid: 0, gid: 0, home: '/root' },
  noops: { name: 'noops', uid: 998, gid: 997, home: '/nonexistent' },
  app: { name: 'app', uid: 1001, gid: 1001, home: '/home/app' },
  dev: { name: 'dev', uid: 1000, gid: 1000, home: '/home/dev' },
};

/**
 * The whole decision, as the agent and its supervisor take it: which user (manifest, else the
 * host's default), then the identity to spawn with, or the error code that refuses it.
 */
function decide(manifestUser: string | null, configured: string, allowRoot: boolean, agentUid: number): RunAs | 'agent' | string {
  const user = processUser(manifestUser, hostUsers(configured, agentUid));
  try {
    return identityFor(user === undefined ? undefined : USERS[user], agentUid, allowRoot) ?? 'agent';
  } catch (err) {
    return (err as NoopsError).code;
  }
}

test('the host default applies only to an agent that runs as root', () => {
  assert.deepEqual(hostUsers('noops', 0), { defaultUser: 'noops' });
  assert.deepEqual(hostUsers('app', 0), { defaultUser: 'app' });
  assert.deepEqual(hostUsers('noops', 1000), { defaultUser: null });
  assert.deepEqual(hostUsers(undefined, 0), { defaultUser: null });
});

test("the manifest's user wins over the host default; none and no default: the agent's own user", () => {
  assert.equal(processUser(undefined, { defaultUser: 'noops' }), 'noops');
  assert.equal(processUser(null, { defaultUser: 'noops' }), 'noops');
  assert.equal(processUser('app', { defaultUser: 'noops' }), 'app');
  assert.equal(processUser(null, { defaultUser: null }), undefined);
  assert.equal(processUser('root', { defaultUser: null }), 'root');
});

test("an agent running as root: the default user, the manifest's user, root only when allowed", () => {
  assert.deepEqual(decide(null, 'noops', false, 0), USERS.noops);
  assert.deepEqual(decide(null, 'noops', true, 0), USERS.noops, 'allowing root does not make root the default');
  assert.deepEqual(decide(null, 'app', false, 0), USERS.app, 'the host default is configurable');
  assert.deepEqual(decide('app', 'noops', false, 0), USERS.app);
  assert.equal(decide('root', 'noops', false, 0), 'NOOPS_E_ROOT_NOT_ALLOWED');
  assert.equal(decide('0', 'noops', false, 0), 'NOOPS_E_ROOT_NOT_ALLOWED');
  assert.equal(decide('toor', 'noops', false, 0), 'NOOPS_E_ROOT_NOT_ALLOWED', 'any name with uid 0');
  assert.equal(decide('root', 'noops', true, 0), 'agent', "allowed: root, the agent's own user");
  assert.equal(decide('toor', 'noops', true, 0), 'agent');
});

test('an agent not running as root: processes run as itself; another user is an error, as before', () => {
  assert.equal(decide(null, 'noops', false, 1000), 'agent');
  assert.equal(decide('dev', 'noops', false, 1000), 'agent', 'its own name');
  assert.equal(decide('app', 'noops', false, 1000), 'NOOPS_E_INPUT');
  assert.equal(decide('root', 'noops', false, 1000), 'NOOPS_E_ROOT_NOT_ALLOWED');
  assert.equal(decide('root', 'noops', true, 1000), 'NOOPS_E_INPUT', 'allowed, but it cannot switch');
});

test("a root supervisor given no user refuses to run a release's process as itself; without a rule it runs it", () => {
  assert.throws(
    () => identityFor(undefined, 0, false),
    (e: NoopsError) => e.code === 'NOOPS_E_ROOT_NOT_ALLOWED' && /agent's own user \(root\)/.test(e.message),
  );
  assert.equal(identityFor(undefined, 0, true), undefined);
  assert.equal(identityFor(undefined, 0, undefined), undefined, "the host's own watches: no rule");
  assert.equal(identityFor(USERS.root, 0, undefined), undefined);
});
