/**
 * The strategy, nodata and maintenance routes through `inject()`: shapes, checks at the edge with
 * their codes, a team refused outside its subtree and reading only its own, apply's plan, and a
 * change published on the bus.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { CHANNELS } from '../../bus/index.js';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
let agent: string;
let webDeployer: string;
let published = 0;

const WEB_SEL = 'cop=acme,owt=web';
const JOB_SEL = 'cop=acme,owt=web,pdl=shop,service=api,job=web';
const MAIL_SEL = 'cop=acme,owt=mail';

const base = { metric: 'common.servicerunning', func: 'all(#3)', op: '==', right: 0, maxStep: 3, priority: 2 };

before(async () => {
  t = await startTestApp();
  agent = await t.agent('h1');
  webDeployer = await t.team(TREE.WEB, 'deployer');
  t.ctx.bus.subscribe(CHANNELS.strategies, { change: () => published++, resync: () => undefined });
});
after(() => t.close());

routeTest('POST /api/v1/strategies', 'a deployer adds a strategy at or under its subtree (selector or tag); the bus hears it', async () => {
  const before = published;
  const res = await t.call(webDeployer, 'POST', '/api/v1/strategies', {
    selector: JOB_SEL,
    ...base,
    tags: 'process=web',
    note: 'down',
    run: '22:00-06:00',
  });
  assert.equal(res.statusCode, 200, res.body);
  const view = res.json();
  assert.deepEqual(
    { ...view, id: 0, createdAt: '' },
    {
      id: 0,
      selector: JOB_SEL,
      metric: 'common.servicerunning',
      tags: 'process=web',
      func: 'all(#3)',
      op: '==',
      right: 0,
      maxStep: 3,
      priority: 2,
      note: 'down',
      run: '22:00-06:00',
      off: false,
      createdAt: '',
    },
  );
  assert.equal(published, before + 1);
  const byTag = await t.call(webDeployer, 'POST', '/api/v1/strategies', { selector: TREE.WEB, ...base });
  assert.equal(byTag.json().selector, WEB_SEL);
  const off = await t.call(webDeployer, 'POST', '/api/v1/strategies', { selector: JOB_SEL, metric: 'common.servicerunning', off: true });
  assert.equal(off.statusCode, 200, off.body);
  assert.equal(off.json().off, true);
});

routeTest('POST /api/v1/strategies', 'outside its subtree, above it, or as a viewer: 403; bad fields: 400 naming them', async () => {
  assertError(await t.call(webDeployer, 'POST', '/api/v1/strategies', { selector: MAIL_SEL, ...base }), 403, 'NOOPS_E_FORBIDDEN', 'beside');
  assertError(
    await t.call(webDeployer, 'POST', '/api/v1/strategies', { selector: 'cop=acme', ...base }),
    403,
    'NOOPS_E_FORBIDDEN',
    'above',
  );
  assertError(
    await t.call(webDeployer, 'POST', '/api/v1/strategies', { selector: 'cop=acme,owt=other', ...base }),
    403,
    'NOOPS_E_FORBIDDEN',
    'a new node beside',
  );
  assert.equal(
    (await t.ctx.store.listNodes()).some((n) => n.tag === 'cop.acme_owt.other'),
    false,
    'a refused call creates no node',
  );
  const viewer = await t.team(TREE.WEB, 'viewer');
  assertError(await t.call(viewer, 'POST', '/api/v1/strategies', { selector: WEB_SEL, ...base }), 403, 'NOOPS_E_FORBIDDEN', 'viewer');
  for (const [bad, field] of [
    [{ func: 'all(3)' }, '--func'],
    [{ op: '=>' }, '--op'],
    [{ priority: 7 }, '--priority'],
    [{ maxStep: -1 }, '--max'],
    [{ run: '25:00-01:00' }, '--run'],
    [{ tags: 'mount' }, '--tags'],
    [{ func: undefined }, '--func'],
  ] as const) {
    const res = await t.call(t.adminToken, 'POST', '/api/v1/strategies', { selector: WEB_SEL, ...base, ...bad });
    assertError(res, 400, 'NOOPS_E_STRATEGY_INVALID', field);
    assert.match(res.json().message, new RegExp(field.replace(/-/g, '\\-')));
  }
  // an invalid request leaves no node behind either; nor does a window too long for a date
  assertError(
    await t.call(t.adminToken, 'POST', '/api/v1/strategies', { selector: 'cop=acme,owt=fresh', ...base, func: 'all(3)' }),
    400,
    'NOOPS_E_STRATEGY_INVALID',
    'bad func on a new node',
  );
  assertError(
    await t.call(t.adminToken, 'POST', '/api/v1/maintenance', { selector: 'cop=acme,owt=fresh', for: '99999999999d' }),
    400,
    'NOOPS_E_STRATEGY_INVALID',
    "a window past any date: a caller's mistake, not a 500",
  );
  assert.equal(
    (await t.ctx.store.listNodes()).some((n) => n.tag === 'cop.acme_owt.fresh'),
    false,
    'an invalid call creates no node',
  );
  assertError(await t.call(t.adminToken, 'POST', '/api/v1/strategies', { selector: WEB_SEL, ...base, x: 1 }), 400, 'NOOPS_E_INPUT');
  assertError(
    await t.call(t.adminToken, 'POST', '/api/v1/strategies', { selector: 'cop=acme,=x', ...base }),
    400,
    'NOOPS_E_SELECTOR_INVALID',
  );
  await assertPeopleOnly(t, 'POST', '/api/v1/strategies', { selector: WEB_SEL, ...base }, agent);
});

routeTest('GET /api/v1/strategies', 'a team reads only those at or under its subtree; ?selector= narrows', async () => {
  await t.call(t.adminToken, 'POST', '/api/v1/strategies', { selector: MAIL_SEL, ...base });
  await t.call(t.adminToken, 'POST', '/api/v1/strategies', { selector: 'cop=acme', ...base });
  const all = (await t.call(t.adminToken, 'GET', '/api/v1/strategies')).json().strategies as { selector: string }[];
  assert.ok(all.some((s) => s.selector === 'cop=acme') && all.some((s) => s.selector === MAIL_SEL));
  const web = (await t.call(await t.team(TREE.WEB, 'viewer'), 'GET', '/api/v1/strategies')).json().strategies as { selector: string }[];
  assert.ok(web.length > 0);
  assert.ok(
    web.every((s) => s.selector.startsWith(WEB_SEL)),
    JSON.stringify(web),
  );
  const job = (await t.call(t.adminToken, 'GET', `/api/v1/strategies?selector=${encodeURIComponent('job=web')}`)).json().strategies as {
    selector: string;
  }[];
  assert.ok(job.length > 0 && job.every((s) => s.selector === JOB_SEL));
  assertError(await t.call(t.adminToken, 'GET', '/api/v1/strategies?tag=x'), 400, 'NOOPS_E_INPUT');
});

routeTest('DELETE /api/v1/strategies/:id', "removes one of its own; another subtree's is 404 (not told apart from none)", async () => {
  const mine = (await t.call(webDeployer, 'POST', '/api/v1/strategies', { selector: WEB_SEL, ...base, metric: 'cpu.idle' })).json();
  const theirs = (await t.call(t.adminToken, 'POST', '/api/v1/strategies', { selector: MAIL_SEL, ...base, metric: 'cpu.idle' })).json();
  assertError(await t.call(webDeployer, 'DELETE', `/api/v1/strategies/${theirs.id}`), 404, 'NOOPS_E_STRATEGY_UNKNOWN');
  assert.equal((await t.call(webDeployer, 'DELETE', `/api/v1/strategies/${mine.id}`)).statusCode, 200);
  assertError(await t.call(webDeployer, 'DELETE', `/api/v1/strategies/${mine.id}`), 404, 'NOOPS_E_STRATEGY_UNKNOWN');
  assertError(await t.call(webDeployer, 'DELETE', '/api/v1/strategies/abc'), 400, 'NOOPS_E_INPUT');
});

routeTest(
  'POST /api/v1/strategies/apply',
  'makes the named selectors hold exactly the file: added, changed in place, removed; dry run changes nothing',
  async () => {
    const sel = 'cop=acme,owt=web,pdl=shop';
    const kept = (
      await t.call(t.adminToken, 'POST', '/api/v1/strategies', { selector: sel, ...base, metric: 'load.1min', op: '>', right: 8 })
    ).json();
    const changed = (
      await t.call(t.adminToken, 'POST', '/api/v1/strategies', { selector: sel, ...base, metric: 'cpu.idle', op: '<', right: 5 })
    ).json();
    const gone = (
      await t.call(t.adminToken, 'POST', '/api/v1/strategies', { selector: sel, ...base, metric: 'mem.memfree.percent', op: '<', right: 5 })
    ).json();
    const file = [
      { selector: sel, ...base, metric: 'load.1min', op: '>', right: 8 },
      { selector: sel, ...base, metric: 'cpu.idle', op: '<', right: 10 },
      { selector: sel, ...base, metric: 'df.bytes.free.percent', tags: 'mount=/', op: '<', right: 5 },
    ];
    const dry = (await t.call(t.adminToken, 'POST', '/api/v1/strategies/apply', { strategies: file, dryRun: true })).json();
    assert.deepEqual([dry.added.length, dry.changed.length, dry.removed.length, dry.dryRun], [1, 1, 1, true]);
    const dryNew = [{ selector: 'cop=acme,owt=dry', ...base }];
    const dryOnNew = (await t.call(t.adminToken, 'POST', '/api/v1/strategies/apply', { strategies: dryNew, dryRun: true })).json();
    assert.equal(dryOnNew.added.length, 1);
    assert.equal(
      (await t.ctx.store.listNodes()).some((n) => n.tag === 'cop.acme_owt.dry'),
      false,
      'a dry run creates no node',
    );
    const list = async () =>
      (
        (await t.call(t.adminToken, 'GET', `/api/v1/strategies?selector=${sel}`)).json().strategies as {
          id: number;
          metric: string;
          right: number;
          selector: string;
        }[]
      ).filter((s) => s.selector === sel);
    assert.equal((await list()).length, 3);
    const res = await t.call(t.adminToken, 'POST', '/api/v1/strategies/apply', { strategies: file });
    assert.equal(res.statusCode, 200, res.body);
    const out = res.json();
    assert.deepEqual(
      out.added.map((s: { metric: string }) => s.metric),
      ['df.bytes.free.percent'],
    );
    assert.deepEqual(
      out.changed.map((c: { from: { id: number; right: number }; to: { id: number; right: number } }) => [
        c.from.id,
        c.from.right,
        c.to.id,
        c.to.right,
      ]),
      [[changed.id, 5, changed.id, 10]],
    );
    assert.deepEqual(
      out.removed.map((s: { id: number }) => s.id),
      [gone.id],
    );
    const now = await list();
    assert.deepEqual(now.map((s) => s.metric).sort(), ['cpu.idle', 'df.bytes.free.percent', 'load.1min']);
    assert.ok(now.some((s) => s.id === kept.id));
    const again = (await t.call(t.adminToken, 'POST', '/api/v1/strategies/apply', { strategies: file })).json();
    assert.deepEqual([again.added.length, again.changed.length, again.removed.length], [0, 0, 0]);
    // a team may not apply beside its subtree: nothing changes
    const refused = await t.call(webDeployer, 'POST', '/api/v1/strategies/apply', { strategies: [{ selector: MAIL_SEL, ...base }] });
    assertError(refused, 403, 'NOOPS_E_FORBIDDEN');
    assert.match(refused.json().message, /strategy 1/);
  },
);

routeTest('POST /api/v1/nodata', 'adds a rule (after as a duration or seconds); outside its subtree 403', async () => {
  const res = await t.call(webDeployer, 'POST', '/api/v1/nodata', { selector: WEB_SEL, metric: 'agent.alive', after: '2m', mock: -1 });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(
    { ...(res.json() as object), id: 0, createdAt: '' },
    { id: 0, selector: WEB_SEL, metric: 'agent.alive', tags: '', after: 120, mock: -1, step: null, createdAt: '' },
  );
  assertError(
    await t.call(webDeployer, 'POST', '/api/v1/nodata', { selector: MAIL_SEL, metric: 'm', after: 60, mock: 0 }),
    403,
    'NOOPS_E_FORBIDDEN',
  );
  assertError(
    await t.call(webDeployer, 'POST', '/api/v1/nodata', { selector: WEB_SEL, metric: 'm', after: 'soon', mock: 0 }),
    400,
    'NOOPS_E_STRATEGY_INVALID',
  );
});

routeTest('GET /api/v1/nodata', 'lists the rules a token may see', async () => {
  await t.call(t.adminToken, 'POST', '/api/v1/nodata', { selector: MAIL_SEL, metric: 'agent.alive', after: 60, mock: 0 });
  const web = (await t.call(webDeployer, 'GET', '/api/v1/nodata')).json().rules as { selector: string }[];
  assert.ok(web.length > 0 && web.every((r) => r.selector.startsWith(WEB_SEL)));
  assert.ok(((await t.call(t.adminToken, 'GET', '/api/v1/nodata')).json().rules as unknown[]).length > web.length);
});

routeTest('DELETE /api/v1/nodata/:id', "removes a rule; another subtree's is 404", async () => {
  const theirs = (await t.call(t.adminToken, 'POST', '/api/v1/nodata', { selector: MAIL_SEL, metric: 'x', after: 60, mock: 0 })).json();
  assertError(await t.call(webDeployer, 'DELETE', `/api/v1/nodata/${theirs.id}`), 404, 'NOOPS_E_STRATEGY_UNKNOWN');
  assert.equal((await t.call(t.adminToken, 'DELETE', `/api/v1/nodata/${theirs.id}`)).statusCode, 200);
});

routeTest('POST /api/v1/maintenance', 'a node for a time, or a host of its scope; not both; outside its subtree 403', async () => {
  const res = await t.call(webDeployer, 'POST', '/api/v1/maintenance', { selector: JOB_SEL, for: '2h', reason: 'upgrade' });
  assert.equal(res.statusCode, 200, res.body);
  const w = res.json();
  assert.equal(w.selector, JOB_SEL);
  const hours = (Date.parse(w.until) - Date.parse(w.createdAt)) / 3_600_000;
  assert.equal(hours, 2);
  assertError(await t.call(webDeployer, 'POST', '/api/v1/maintenance', { selector: MAIL_SEL, for: 60 }), 403, 'NOOPS_E_FORBIDDEN');
  assertError(
    await t.call(webDeployer, 'POST', '/api/v1/maintenance', { host: 'h1', for: 60 }),
    403,
    'NOOPS_E_FORBIDDEN',
    'an unassigned host',
  );
  assertError(await t.call(t.adminToken, 'POST', '/api/v1/maintenance', { host: 'h1', selector: WEB_SEL, for: 60 }), 400, 'NOOPS_E_INPUT');
  assertError(await t.call(t.adminToken, 'POST', '/api/v1/maintenance', { host: 'nobody', for: 60 }), 404, 'NOOPS_E_HOST_UNKNOWN');
  const host = await t.call(t.adminToken, 'POST', '/api/v1/maintenance', { host: 'h1', for: 60 });
  assert.equal(host.json().host, 'h1');
});

routeTest('GET /api/v1/maintenance', 'open windows the token may see (?all=1: ended ones too)', async () => {
  const web = (await t.call(webDeployer, 'GET', '/api/v1/maintenance')).json().windows as {
    selector: string | null;
    host: string | null;
  }[];
  assert.ok(web.length > 0 && web.every((w) => w.selector?.startsWith(WEB_SEL)));
  const all = (await t.call(t.adminToken, 'GET', '/api/v1/maintenance?all=1')).json().windows as { host: string | null }[];
  assert.ok(all.some((w) => w.host === 'h1'));
});

routeTest('DELETE /api/v1/maintenance/:id', "ends a window early; a host window of no node is the admin's", async () => {
  const w = (await t.call(webDeployer, 'POST', '/api/v1/maintenance', { selector: WEB_SEL, for: '1h' })).json();
  assert.equal((await t.call(webDeployer, 'DELETE', `/api/v1/maintenance/${w.id}`)).statusCode, 200);
  assertError(await t.call(webDeployer, 'DELETE', `/api/v1/maintenance/${w.id}`), 404, 'NOOPS_E_STRATEGY_UNKNOWN');
  const h = (await t.call(t.adminToken, 'POST', '/api/v1/maintenance', { host: 'h1', for: 60 })).json();
  assertError(await t.call(webDeployer, 'DELETE', `/api/v1/maintenance/${h.id}`), 404, 'NOOPS_E_STRATEGY_UNKNOWN');
  assert.equal((await t.call(t.adminToken, 'DELETE', `/api/v1/maintenance/${h.id}`)).statusCode, 200);
});

routeTest(
  'GET /api/v1/strategies',
  '?at=NODE: those that apply at the node (its own and inherited), those replaced by a lower node or switched off, lowest first',
  async () => {
    const add = async (selector: string, metric: string, over: Record<string, unknown> = {}): Promise<number> => {
      const body = over.off ? { selector, metric, ...over } : { selector, ...base, metric, ...over };
      const res = await t.call(t.adminToken, 'POST', '/api/v1/strategies', body);
      assert.equal(res.statusCode, 200, res.body);
      return res.json().id as number;
    };
    const at = async (token: string, node: string, metrics: string[]) => {
      const res = await t.call(token, 'GET', `/api/v1/strategies?at=${encodeURIComponent(node)}`);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as {
        at: string;
        strategies: { id: number; metric: string }[];
        notApplied: { id: number; metric: string; because: string }[];
      };
      return {
        at: body.at,
        applies: body.strategies.filter((s) => metrics.includes(s.metric)).map((s) => s.id),
        not: body.notApplied.filter((s) => metrics.includes(s.metric)).map((s) => [s.id, s.because]),
      };
    };
    // its own and those above, never those of another node or a lower one
    const high = await add('cop=acme', 'at.cpu');
    const own = await add(WEB_SEL, 'at.queue');
    await add(MAIL_SEL, 'at.queue');
    await add(`${WEB_SEL},pdl=shop`, 'at.load');
    assert.deepEqual(await at(t.adminToken, WEB_SEL, ['at.cpu', 'at.queue', 'at.load']), { at: WEB_SEL, applies: [own, high], not: [] });
    assert.deepEqual((await at(t.adminToken, TREE.WEB, ['at.cpu'])).applies, [high], 'a tag names the node too');
    // for one metric and tags the lowest node replaces the higher; other tags are another strategy
    const top = await add('cop=acme', 'at.running');
    const lower = await add(WEB_SEL, 'at.running');
    const worker = await add('cop=acme', 'at.running', { tags: 'process=worker' });
    assert.deepEqual(await at(t.adminToken, `${WEB_SEL},pdl=shop`, ['at.running']), {
      at: `${WEB_SEL},pdl=shop`,
      applies: [lower, worker],
      not: [[top, 'overridden']],
    });
    // switched off at a node: it and those above it for that metric and tags are off there, not above
    const on = await add('cop=acme', 'at.idle');
    const off = await add(WEB_SEL, 'at.idle', { off: true });
    assert.deepEqual((await at(t.adminToken, WEB_SEL, ['at.idle'])).not, [
      [off, 'off'],
      [on, 'off'],
    ]);
    assert.deepEqual((await at(t.adminToken, 'cop=acme', ['at.idle'])).applies, [on]);
    // a team sees only its own subtree's; one above its scope still replaced there, unseen
    const team = await at(await t.team(TREE.WEB, 'viewer'), `${WEB_SEL},pdl=shop`, ['at.cpu', 'at.queue', 'at.running']);
    assert.deepEqual([team.applies, team.not], [[own, lower], []]);
    assertError(await t.call(t.adminToken, 'GET', `/api/v1/strategies?at=${WEB_SEL}&selector=${WEB_SEL}`), 400, 'NOOPS_E_INPUT');
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/strategies?at='), 400, 'NOOPS_E_SELECTOR_INVALID');
    assertError(
      await t.call(t.adminToken, 'GET', `/api/v1/strategies?at=${encodeURIComponent('cop=acme,=x')}`),
      400,
      'NOOPS_E_SELECTOR_INVALID',
    );
  },
);
