/** The servers of the database through `inject()`: who answers, who leads what, who may ask. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerView, ServersView } from '../../api/index.js';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';
import { serverViews } from './servers.js';

let t: TestApp;
let agent: string;
/** another server of the same database, recorded as its Leadership would */
const OTHER = { id: 'other-server', address: 'http://10.0.0.9:7700', startedAt: '2026-12-01T10:00:00.000Z' };

before(async () => {
  t = await startTestApp();
  agent = await t.agent('h1');
});
after(() => t.close());

routeTest(
  'GET /api/v1/servers',
  'every server of the database, sorted by id, with the loops whose live lease it holds and the one that answered marked self',
  async () => {
    const self = t.ctx.leadership.serverId;
    let res = await t.call(t.adminToken, 'GET', '/api/v1/servers');
    assert.equal(res.statusCode, 200, res.body);
    const alone = (res.json() as ServersView).servers;
    assert.deepEqual(
      alone.map((s) => [s.id, s.leads, s.self]),
      [[self, ['history', 'judge', 'rollout', 'schedule'], true]],
      'alone on SQLite, it leads the rollouts',
    );
    assert.match(alone[0]!.address, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(Date.now() - Date.parse(alone[0]!.lastSeen) < 60_000, `lastSeen ${alone[0]!.lastSeen}`);
    assert.ok(Date.parse(alone[0]!.startedAt) <= Date.parse(alone[0]!.lastSeen));

    // a second server that leads a loop this one does not run, and held one whose lease ran out
    await t.ctx.store.touchServer(OTHER);
    assert.ok((await t.ctx.store.acquireLease('scheduler', OTHER.id, 60_000)) !== undefined);
    assert.ok((await t.ctx.store.acquireLease('migration', OTHER.id, -1_000)) !== undefined);
    try {
      const viewer = await t.team(TREE.MAIL, 'viewer'); // any person, whatever the subtree
      res = await t.call(viewer, 'GET', '/api/v1/servers');
      assert.equal(res.statusCode, 200, res.body);
      const both = (res.json() as ServersView).servers;
      assert.deepEqual(
        both.map((s) => s.id),
        [self, OTHER.id].sort(),
      );
      const other = both.find((s) => s.id === OTHER.id)!;
      assert.deepEqual([other.address, other.leads, other.self, other.startedAt], [OTHER.address, ['scheduler'], false, OTHER.startedAt]);
      assert.deepEqual(both.find((s) => s.id === self)!.leads, ['history', 'judge', 'rollout', 'schedule']);
    } finally {
      await t.ctx.store.releaseLease('scheduler', OTHER.id);
      await t.ctx.store.removeServers({ id: OTHER.id });
    }

    assertError(await t.call(t.adminToken, 'GET', '/api/v1/servers?x=1'), 400, 'NOOPS_E_INPUT');
    await assertPeopleOnly(t, 'GET', '/api/v1/servers', undefined, agent);
  },
);

test("serverViews sorts by id, sorts each server's loops and marks only the answering server", () => {
  const row = (id: string, leads: string[]) => ({ id, address: `http://${id}:7700`, startedAt: 's', lastSeen: 'l', leads });
  const views: ServerView[] = serverViews([row('b', ['rollout', 'judge']), row('a', [])], 'b');
  assert.deepEqual(views, [
    { id: 'a', address: 'http://a:7700', leads: [], lastSeen: 'l', startedAt: 's', self: false },
    { id: 'b', address: 'http://b:7700', leads: ['judge', 'rollout'], lastSeen: 'l', startedAt: 's', self: true },
  ]);
});
