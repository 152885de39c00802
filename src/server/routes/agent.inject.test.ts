/** The agent protocol through `inject()`: join, report, desired state, packages. */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, routeTest, startTestApp, TREE, upProcess, type TestApp } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
let sha256: string;

before(async () => {
  t = await startTestApp({ longPollMs: 50 });
  agents.h1 = await t.agent('h1');
  agents.h2 = await t.agent('h2');
  sha256 = (await t.release(TREE.JOB, 'abcdef001')).json().sha256;
  await t.cluster(TREE.CLUSTER, ['h1']);
});
after(() => t.close());

routeTest(
  'POST /api/v1/agent/join',
  'a join token joins a host (its token, heartbeat, server id, signing key); bad names are 400',
  async () => {
    const res = await t.call(t.joinToken, 'POST', '/api/v1/agent/join', { name: 'fresh-1', labels: { zone: 'a' } });
    assert.equal(res.statusCode, 200, res.body);
    const j = res.json();
    assert.ok(
      typeof j.token === 'string' && j.heartbeatMs > 0 && typeof j.serverId === 'string' && typeof j.signing.publicKey === 'string',
      res.body,
    );
    assert.equal((await t.call(j.token, 'GET', '/api/v1/whoami')).json().name, 'fresh-1');
    for (const body of [
      { name: '-bad' },
      { name: 'x'.repeat(64) },
      { name: 'ok', labels: { 'bad key!': 'v' } },
      { name: 'ok', extra: 1 },
      { name: 'ok', peerUrl: 'ftp://10.0.0.1/' },
      {},
    ]) {
      assertError(await t.call(t.joinToken, 'POST', '/api/v1/agent/join', body), 400, 'NOOPS_E_INPUT', JSON.stringify(body));
    }
  },
);

routeTest(
  'POST /api/v1/agent/join',
  "a live host's name is taken (409); a used-up join token is 401; only a join token may join",
  async () => {
    const beat = await t.report(agents.h2!, {});
    assert.equal(beat.statusCode, 200, beat.body);
    assertError(await t.call(t.joinToken, 'POST', '/api/v1/agent/join', { name: 'h2' }), 409, 'NOOPS_E_HOST_TAKEN');
    const once = await t.newJoinToken('once', 1);
    assert.equal((await t.call(once, 'POST', '/api/v1/agent/join', { name: 'once-1' })).statusCode, 200);
    assertError(await t.call(once, 'POST', '/api/v1/agent/join', { name: 'once-2' }), 401, 'NOOPS_E_UNAUTHORIZED', 'no joins left');
    assertError(await t.call(null, 'POST', '/api/v1/agent/join', { name: 'x' }), 401, 'NOOPS_E_UNAUTHORIZED');
    for (const token of [t.adminToken, agents.h1!, await t.team(TREE.ROOT, 'admin')]) {
      assertError(await t.call(token, 'POST', '/api/v1/agent/join', { name: 'x' }), 403, 'NOOPS_E_FORBIDDEN');
    }
  },
);

routeTest(
  'POST /api/v1/agent/report',
  'an agent reports (200, its generation and heartbeat); a bad report is 400 and stores nothing',
  async () => {
    const res = await t.report(agents.h1!, { processes: [upProcess(TREE.CLUSTER, 'abcdef001')] });
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(Number.isInteger(res.json().generation) && res.json().heartbeatMs > 0, res.body);
    assert.deepEqual(
      ((await t.call(t.adminToken, 'GET', '/api/v1/instances')).json() as { host: string }[]).map((i) => i.host),
      ['h1'],
    );
    for (const body of [
      { processes: [upProcess('Not_Canonical', 'abcdef001')] },
      { processes: [{ ...upProcess(TREE.CLUSTER, 'x'), extra: 1 }] },
      { generation: 'one' },
      { failures: [{ tag: TREE.CLUSTER }] },
      // numbers the store's 32-bit columns cannot hold (PostgreSQL failed every host's batched write)
      { processes: [{ ...upProcess(TREE.CLUSTER, 'x'), pid: 2 ** 31 }] },
      { processes: [{ ...upProcess(TREE.CLUSTER, 'x'), restarts: -1 }] },
      { processes: [{ ...upProcess(TREE.CLUSTER, 'x'), port: 65_536 }] },
    ]) {
      assertError(await t.report(agents.h2!, body as never), 400, 'NOOPS_E_INPUT', JSON.stringify(body));
    }
    assertError(await t.call(agents.h2!, 'POST', '/api/v1/agent/report', { processes: [] }), 400, 'NOOPS_E_INPUT', 'missing fields');
    assert.deepEqual(
      ((await t.call(t.adminToken, 'GET', '/api/v1/instances')).json() as { host: string }[]).map((i) => i.host),
      ['h1'],
    );
    assertError(await t.call(null, 'POST', '/api/v1/agent/report', {}), 401, 'NOOPS_E_UNAUTHORIZED');
    for (const token of [t.adminToken, t.joinToken, await t.team(TREE.ROOT, 'admin')]) {
      assertError(await t.report(token, {}), 403, 'NOOPS_E_FORBIDDEN', 'not an agent');
    }
  },
);

routeTest('GET /api/v1/agent/desired', 'an agent reads its own desired state; a bad ?after= is 400; people may not', async () => {
  const empty = await t.call(agents.h2!, 'GET', '/api/v1/agent/desired?after=-1');
  assert.equal(empty.statusCode, 200);
  assert.deepEqual(empty.json().instances, []);
  const d = (await t.call(t.adminToken, 'POST', '/api/v1/deployments', { tag: TREE.CLUSTER, version: 'abcdef001' })).json();
  const res = await t.call(agents.h1!, 'GET', '/api/v1/agent/desired?after=-1&commands=1');
  assert.equal(res.statusCode, 200);
  const state = res.json();
  assert.deepEqual(
    state.instances.map((i: { tag: string; version: string; sha256: string; url: string }) => [i.tag, i.version, i.sha256, i.url]),
    [[TREE.CLUSTER, 'abcdef001', sha256, `/api/v1/artifacts/${sha256}`]],
  );
  assert.ok(Number.isInteger(state.generation) && state.signing && Array.isArray(state.commands), JSON.stringify(state).slice(0, 300));
  // up to date: the poll is held (50 ms here), then answers the same generation
  assert.equal((await t.call(agents.h1!, 'GET', `/api/v1/agent/desired?after=${state.generation}`)).json().generation, state.generation);
  assert.deepEqual(
    (await t.call(agents.h2!, 'GET', '/api/v1/agent/desired')).json().instances,
    [],
    "another host's instances are not in it",
  );
  assertError(await t.call(agents.h1!, 'GET', '/api/v1/agent/desired?after=x'), 400, 'NOOPS_E_INPUT');
  assertError(await t.call(agents.h1!, 'GET', '/api/v1/agent/desired?after=1&after=2'), 400, 'NOOPS_E_INPUT');
  assertError(await t.call(null, 'GET', '/api/v1/agent/desired'), 401, 'NOOPS_E_UNAUTHORIZED');
  for (const token of [t.adminToken, t.joinToken, await t.team(TREE.ROOT, 'admin')]) {
    assertError(await t.call(token, 'GET', '/api/v1/agent/desired'), 403, 'NOOPS_E_FORBIDDEN', 'not an agent');
  }
  await t.drive(d.id, { h1: agents.h1! }, [upProcess(TREE.CLUSTER, 'abcdef001')]);
});

routeTest(
  'GET /api/v1/artifacts/:sha256',
  'a package goes to the agents whose desired state names it and to people who may see its job; others get 404',
  async () => {
    const res = await t.call(agents.h1!, 'GET', `/api/v1/artifacts/${sha256}`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/gzip');
    assert.equal(res.rawPayload.subarray(0, 2).toString('hex'), '1f8b', 'a gzip stream');
    assert.equal((await t.call(t.adminToken, 'GET', `/api/v1/artifacts/${sha256}`)).statusCode, 200);
    assert.equal((await t.call(await t.team(TREE.WEB, 'viewer'), 'GET', `/api/v1/artifacts/${sha256}`)).statusCode, 200);
    assertError(await t.call(agents.h2!, 'GET', `/api/v1/artifacts/${sha256}`), 404, 'NOOPS_E_NOT_FOUND', "another host's package");
    assertError(
      await t.call(await t.team(TREE.MAIL, 'admin'), 'GET', `/api/v1/artifacts/${sha256}`),
      404,
      'NOOPS_E_NOT_FOUND',
      "another team's package",
    );
    assertError(await t.call(t.joinToken, 'GET', `/api/v1/artifacts/${sha256}`), 404, 'NOOPS_E_NOT_FOUND', 'a join token');
    assertError(await t.call(t.adminToken, 'GET', `/api/v1/artifacts/${'0'.repeat(64)}`), 404, 'NOOPS_E_NOT_FOUND');
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/artifacts/ABC'), 400, 'NOOPS_E_INPUT');
    assertError(await t.call(null, 'GET', `/api/v1/artifacts/${sha256}`), 401, 'NOOPS_E_UNAUTHORIZED');
  },
);

routeTest(
  'GET /api/v1/agent/desired',
  'an unknown query parameter is a 400 naming it (docs/security.md: every query string is checked)',
  async () => {
    assertError(await t.call(agents.h1!, 'GET', '/api/v1/agent/desired?after=-1&afterr=3'), 400, 'NOOPS_E_INPUT');
  },
);

routeTest(
  'POST /api/v1/agent/report',
  'a NUL in what an agent reports becomes U+FFFD (PostgreSQL stores none); a NUL in a person’s body is refused',
  async () => {
    const res = await t.report(agents.h1!, {
      processes: [{ ...upProcess(TREE.CLUSTER, 'abcdef001'), error: 'died\u0000here' }],
    });
    assert.equal(res.statusCode, 200, res.body);
    const rows = (await t.call(t.adminToken, 'GET', '/api/v1/instances')).json() as { host: string; error: string | null }[];
    assert.equal(rows.find((r) => r.host === 'h1')?.error, 'died\uFFFDhere');
    const refused = await t.call(t.joinToken, 'POST', '/api/v1/agent/join', { name: 'nul-1', labels: { zone: 'a\u0000' } });
    assertError(refused, 400, 'NOOPS_E_INPUT');
    assert.match(refused.json().message, /NUL character/);
  },
);
