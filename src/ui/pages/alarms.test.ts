import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAcked, mayAck } from './alarms.js';

const admin = { kind: 'admin' as const, scope: null, role: 'admin' as const };
const team = (role: 'viewer' | 'deployer' | 'admin') => ({ kind: 'team' as const, scope: 'cop.acme_owt.web', role });

test("the acknowledge button: deployer or above on the strategy's node, the admin token everywhere", () => {
  const mine = { selector: 'cop=acme,owt=web,pdl=shop', tags: '' };
  const above = { selector: 'cop=acme', tags: '' };
  assert.equal(mayAck(admin, above), true);
  assert.equal(mayAck(team('deployer'), mine), true);
  assert.equal(mayAck(team('admin'), mine), true);
  assert.equal(mayAck(team('viewer'), mine), false);
  assert.equal(mayAck(team('deployer'), above), false, "a strategy above the scope is not the team's to acknowledge");
  assert.equal(mayAck({ kind: 'agent' as never, scope: null, role: null }, mine), false);
});

test("the instance's node its tags name decides first, else the strategy's node; neither: admin only", () => {
  assert.equal(mayAck(team('deployer'), { selector: 'cop=acme', tags: 'cop=acme,owt=web,pdl=shop,process=api' }), true);
  assert.equal(mayAck(team('deployer'), { selector: 'cop=acme,owt=web', tags: 'cop=acme,owt=ops,process=api' }), false);
  assert.equal(mayAck(team('deployer'), { tags: 'cop=acme,owt=web,process=api' }), true);
  assert.equal(mayAck(team('deployer'), { tags: 'mount=/' }), false);
  assert.equal(mayAck(admin, { tags: 'mount=/' }), true);
  assert.equal(mayAck(team('deployer'), { selector: 'pdl=shop', tags: '' }), false, 'a selector that names no node');
});

test('acknowledged: the server says who and when; null until someone does', () => {
  assert.equal(isAcked({ acknowledged: { by: 'admin', at: '2026-12-03T06:00:00Z' } }), true);
  assert.equal(isAcked({ acknowledged: null }), false);
});
