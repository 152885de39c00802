import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoopsError } from '../errors/index.js';
// The server's rule, to check the console's copy against it (only the test imports server code:
// it is never compiled into dist/web).
import { authorize, type Principal } from '../server/auth.js';
import { isNotFound, may, NEEDS, notFoundWords, whoWords, type Role, type Who } from './permissions.js';

const WEB = 'cop.acme_owt.web';
const CLUSTER = `${WEB}_pdl.shop_service.api_job.web_cluster.prod`;
const OPS = 'cop.acme_owt.ops_pdl.mon_service.alert_job.judge_cluster.prod';

const team = (role: Role, scope = WEB): Who => ({ id: 'a1b2c3d4e5f6', kind: 'team', name: `web-${role}`, scope, role });
const admin: Who = { id: '0123456789ab', kind: 'admin', name: 'admin', scope: null, role: 'admin' };
const agent: Who = { id: 'fedcba987654', kind: 'agent', name: 'h1', scope: null, role: null };

test('may: a team acts on its scope and under it, up to its role; the admin everywhere', () => {
  const table = [
    [team('viewer'), CLUSTER, 'viewer'],
    [team('viewer'), CLUSTER, 'deployer'],
    [team('deployer'), CLUSTER, 'deployer'],
    [team('deployer'), WEB, 'deployer'],
    [team('deployer'), 'cop.acme', 'deployer'],
    [team('deployer'), OPS, 'deployer'],
    [team('deployer'), OPS, 'viewer'],
    [team('deployer'), 'cop.acme_owt.webshop', 'deployer'],
    [team('deployer'), CLUSTER, 'admin'],
    [team('admin'), CLUSTER, 'admin'],
    [admin, OPS, 'admin'],
    [admin, 'cop.acme', 'deployer'],
    [agent, CLUSTER, 'viewer'],
    [team('deployer'), 'not a tag', 'deployer'],
  ] as const;
  assert.deepEqual(
    table.map(([who, tag, need]) => may(who, tag, need)),
    [
      true,
      false,
      true,
      true,
      false, // above its scope
      false,
      false, // beside it
      false, // a name that only starts like its scope is another node
      false,
      true,
      true,
      true,
      false, // machines use no buttons
      false,
    ],
  );
});

test("may agrees with the server's authorize on every kind of token, node and role", () => {
  const whos: Who[] = [
    admin,
    agent,
    ...(['viewer', 'deployer', 'admin'] as const).flatMap((r) => [team(r), team(r, CLUSTER), team(r, 'cop.acme')]),
  ];
  const tags = ['cop.acme', WEB, `${WEB}_pdl.shop`, CLUSTER, OPS, 'cop.other'];
  for (const who of whos) {
    for (const tag of tags) {
      for (const need of ['viewer', 'deployer', 'admin'] as const) {
        let server = true;
        try {
          authorize(who as Principal, tag, need);
        } catch (err) {
          assert.ok(err instanceof NoopsError && err.code === 'NOOPS_E_FORBIDDEN');
          server = false;
        }
        assert.equal(may(who, tag, need), server, `${who.name} (${who.kind} ${who.role} on ${who.scope}) ${need} on ${tag}`);
      }
    }
  }
});

test('every button that changes something needs deployer', () => {
  assert.deepEqual(NEEDS, {
    deploy: 'deployer',
    build: 'deployer',
    rollback: 'deployer',
    pause: 'deployer',
    resume: 'deployer',
    promote: 'deployer',
    abort: 'deployer',
    undeploy: 'deployer',
  });
});

test('whoWords: the role and where it holds', () => {
  assert.deepEqual(
    [whoWords(team('viewer')), whoWords(admin), whoWords(agent)],
    ['viewer on cop.acme_owt.web', 'admin of everything', 'agent token'],
  );
});

test('not found: a team is told it may be outside its scope; the admin only that it is missing', () => {
  assert.equal(
    notFoundWords(team('viewer'), `node ${OPS}`),
    `There is no node ${OPS}, or it is not yours: the token "web-viewer" sees only cop.acme_owt.web and what is under it.`,
  );
  assert.equal(notFoundWords(admin, 'deployment #9'), 'There is no deployment #9.');
  assert.deepEqual(
    [
      isNotFound(new NoopsError('NOOPS_E_TAG_UNKNOWN', 'no node')),
      isNotFound(new NoopsError('NOOPS_E_NOT_FOUND', 'no deployment #9')),
      isNotFound(new NoopsError('NOOPS_E_FORBIDDEN', 'no')),
      isNotFound(new Error('no')),
    ],
    [true, true, false, false],
  );
});
