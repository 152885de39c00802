/** The token routes through `inject()`: create (team and join), list, revoke; who may do which. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, until, type TestApp } from '../test-app.js';

let t: TestApp;
let agent: string;
before(async () => {
  t = await startTestApp();
  agent = await t.agent('h1');
});
after(() => t.close());

routeTest('POST /api/v1/tokens', 'the admin makes team and join tokens (201, the secret once); bad input is 400', async () => {
  const res = await t.call(t.adminToken, 'POST', '/api/v1/tokens', { kind: 'team', name: 'web-dep', scope: TREE.WEB, role: 'deployer' });
  assert.equal(res.statusCode, 201);
  const made = res.json();
  assert.deepEqual([made.kind, made.name, made.scope, made.role, made.createdBy], ['team', 'web-dep', TREE.WEB, 'deployer', 'admin']);
  assert.match(made.token, /\S{20,}/);
  assert.match(made.id, /^[0-9a-f]{12}$/);
  // a body without a kind still makes a team token, deployer by default
  const old = await t.call(t.adminToken, 'POST', '/api/v1/tokens', { name: 'legacy', scope: TREE.WEB });
  assert.deepEqual([old.statusCode, old.json().kind, old.json().role], [201, 'team', 'deployer']);
  const join = await t.call(t.adminToken, 'POST', '/api/v1/tokens', { kind: 'join', name: 'five', uses: 5 });
  assert.deepEqual([join.statusCode, join.json().kind, join.json().usesLeft], [201, 'join', 5]);

  for (const body of [
    { kind: 'team', name: 'Bad Name', scope: TREE.WEB },
    { kind: 'team', name: 'x', scope: TREE.WEB, role: 'root' },
    { kind: 'team', name: 'x', scope: TREE.WEB, extra: 1 },
    { kind: 'join', name: 'x', uses: 0 },
    { kind: 'nope', name: 'x' },
    { kind: 'team', name: 'x', scope: TREE.WEB, expiresAt: 'tomorrow' },
    { kind: 'team', name: 'x', scope: TREE.WEB, expiresAt: '2001-01-01T00:00:00Z' },
  ]) {
    assertError(await t.call(t.adminToken, 'POST', '/api/v1/tokens', body), 400, 'NOOPS_E_INPUT', JSON.stringify(body));
  }
  assertError(
    await t.call(t.adminToken, 'POST', '/api/v1/tokens', { kind: 'team', name: 'x', scope: 'not a tag' }),
    400,
    'NOOPS_E_TAG_INVALID',
  );
});

routeTest(
  'POST /api/v1/tokens',
  'a team admin hands out roles in its subtree only, never join tokens; a deployer or viewer makes none',
  async () => {
    const webAdmin = await t.team(TREE.WEB, 'admin');
    const res = await t.call(webAdmin, 'POST', '/api/v1/tokens', { kind: 'team', name: 'job-viewer', scope: TREE.JOB, role: 'viewer' });
    assert.deepEqual([res.statusCode, res.json().scope, res.json().createdBy], [201, TREE.JOB, res.json().createdBy]);
    assertError(
      await t.call(webAdmin, 'POST', '/api/v1/tokens', { kind: 'team', name: 'up', scope: TREE.ROOT, role: 'viewer' }),
      403,
      'NOOPS_E_FORBIDDEN',
      'above its scope',
    );
    assertError(
      await t.call(webAdmin, 'POST', '/api/v1/tokens', { kind: 'team', name: 'beside', scope: TREE.MAIL, role: 'viewer' }),
      403,
      'NOOPS_E_FORBIDDEN',
      'beside its scope',
    );
    assertError(await t.call(webAdmin, 'POST', '/api/v1/tokens', { kind: 'join', name: 'j' }), 403, 'NOOPS_E_FORBIDDEN', 'a join token');
    for (const role of ['viewer', 'deployer'] as const) {
      assertError(
        await t.call(await t.team(TREE.WEB, role), 'POST', '/api/v1/tokens', { kind: 'team', name: 'x', scope: TREE.JOB, role: 'viewer' }),
        403,
        'NOOPS_E_FORBIDDEN',
        role,
      );
    }
    await assertPeopleOnly(t, 'POST', '/api/v1/tokens', { kind: 'team', name: 'x', scope: TREE.WEB }, agent);
  },
);

routeTest('GET /api/v1/tokens', 'the admin lists every token, a team admin the team tokens of its subtree; never a secret', async () => {
  const all = await t.call(t.adminToken, 'GET', '/api/v1/tokens');
  assert.equal(all.statusCode, 200);
  const kinds = new Set((all.json() as { kind: string }[]).map((x) => x.kind));
  assert.deepEqual([...kinds].sort(), ['admin', 'agent', 'join', 'team']);
  assert.equal(all.body.includes(t.adminToken), false);
  const agents = (await t.call(t.adminToken, 'GET', '/api/v1/tokens?kind=agent')).json() as { name: string }[];
  assert.deepEqual(
    agents.map((x) => x.name),
    ['h1'],
  );

  const mailAdmin = await t.team(TREE.MAIL, 'admin', 'mail-lister');
  const mine = (await t.call(mailAdmin, 'GET', '/api/v1/tokens')).json() as { kind: string; scope: string }[];
  assert.ok(mine.length >= 1 && mine.every((x) => x.kind === 'team' && x.scope.startsWith(TREE.MAIL)), JSON.stringify(mine));

  assertError(await t.call(t.adminToken, 'GET', '/api/v1/tokens?kind=robot'), 400, 'NOOPS_E_INPUT');
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/tokens?limit=0'), 400, 'NOOPS_E_INPUT');
  assertError(await t.call(await t.team(TREE.WEB, 'deployer'), 'GET', '/api/v1/tokens'), 403, 'NOOPS_E_FORBIDDEN');
  await assertPeopleOnly(t, 'GET', '/api/v1/tokens', undefined, agent);
});

routeTest(
  'DELETE /api/v1/tokens/:ref',
  'revoking by id or name stops the token at once; unknown is 404, ambiguous or the admin token is 400',
  async () => {
    const victim = await t.team(TREE.JOB, 'viewer', 'victim');
    assert.equal((await t.call(victim, 'GET', '/api/v1/whoami')).statusCode, 200);
    const res = await t.call(t.adminToken, 'DELETE', '/api/v1/tokens/victim');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(
      (res.json() as { name: string }[]).map((x) => x.name),
      ['victim'],
    );
    assertError(await t.call(victim, 'GET', '/api/v1/whoami'), 401, 'NOOPS_E_UNAUTHORIZED', 'revoked');

    const byId = await t.team(TREE.JOB, 'viewer', 'by-id');
    const id = ((await t.call(t.adminToken, 'GET', '/api/v1/tokens?kind=team')).json() as { id: string; name: string }[]).find(
      (x) => x.name === 'by-id',
    )!.id;
    assert.equal((await t.call(t.adminToken, 'DELETE', `/api/v1/tokens/${id}`)).statusCode, 200);
    assertError(await t.call(byId, 'GET', '/api/v1/whoami'), 401, 'NOOPS_E_UNAUTHORIZED');

    assertError(await t.call(t.adminToken, 'DELETE', '/api/v1/tokens/nobody'), 404, 'NOOPS_E_NOT_FOUND');
    await t.team(TREE.JOB, 'viewer', 'twin');
    await t.team(TREE.WEB, 'viewer', 'twin');
    assertError(await t.call(t.adminToken, 'DELETE', '/api/v1/tokens/twin'), 400, 'NOOPS_E_INPUT', 'ambiguous');
    assertError(await t.call(t.adminToken, 'DELETE', '/api/v1/tokens/admin'), 400, 'NOOPS_E_INPUT', 'the admin token');

    // a team admin revokes within its subtree; another team's token is not found to it
    const webAdmin = await t.team(TREE.WEB, 'admin', 'web-revoker');
    await t.team(TREE.MAIL, 'viewer', 'mail-only');
    assertError(await t.call(webAdmin, 'DELETE', '/api/v1/tokens/mail-only'), 404, 'NOOPS_E_NOT_FOUND', 'another subtree');
    assertError(await t.call(webAdmin, 'DELETE', '/api/v1/tokens/five'), 404, 'NOOPS_E_NOT_FOUND', "a join token is the server admin's");
    const agentId = ((await t.call(t.adminToken, 'GET', '/api/v1/tokens?kind=agent')).json() as { id: string }[])[0]!.id;
    assertError(
      await t.call(webAdmin, 'DELETE', `/api/v1/tokens/${agentId}`),
      404,
      'NOOPS_E_NOT_FOUND',
      "an agent token is the server admin's",
    );
    assert.equal((await t.call(agent, 'GET', '/api/v1/whoami')).statusCode, 200);
    assertError(await t.call(await t.team(TREE.WEB, 'deployer'), 'DELETE', '/api/v1/tokens/mail-only'), 403, 'NOOPS_E_FORBIDDEN');
    await assertPeopleOnly(t, 'DELETE', '/api/v1/tokens/mail-only', undefined, agent);
  },
);

routeTest('POST /api/v1/tokens', 'a token made to expire is refused once it has', async () => {
  const soon = new Date(Date.now() + 1500).toISOString();
  const res = await t.call(t.adminToken, 'POST', '/api/v1/tokens', {
    kind: 'team',
    name: 'brief',
    scope: TREE.JOB,
    role: 'viewer',
    expiresAt: soon,
  });
  assert.deepEqual([res.statusCode, res.json().expiresAt], [201, soon]);
  const token = res.json().token as string;
  assert.equal((await t.call(token, 'GET', '/api/v1/whoami')).statusCode, 200);
  await until('the token to expire', async () => (await t.call(token, 'GET', '/api/v1/whoami')).statusCode === 401, 10_000, 100);
  assertError(await t.call(token, 'GET', '/api/v1/whoami'), 401, 'NOOPS_E_UNAUTHORIZED');
});

routeTest('DELETE /api/v1/tokens/:ref', "revoking an agent's token stops that agent at once; a join token can be revoked", async () => {
  const doomed = await t.agent('doomed');
  assert.equal((await t.report(doomed, {})).statusCode, 200);
  const id = ((await t.call(t.adminToken, 'GET', '/api/v1/tokens?kind=agent')).json() as { id: string; name: string }[]).find(
    (x) => x.name === 'doomed',
  )!.id;
  assert.deepEqual(
    (await t.call(t.adminToken, 'DELETE', `/api/v1/tokens/${id}`)).json().map((x: { kind: string }) => x.kind),
    ['agent'],
  );
  assertError(await t.report(doomed, {}), 401, 'NOOPS_E_UNAUTHORIZED');
  const join = await t.newJoinToken('spare');
  assert.equal((await t.call(t.adminToken, 'DELETE', '/api/v1/tokens/spare')).statusCode, 200);
  assertError(await t.call(join, 'POST', '/api/v1/agent/join', { name: 'late' }), 401, 'NOOPS_E_UNAUTHORIZED');
});
