/**
 * The load-balancer pool routes through `inject()`: set (created, replaced), every check of the
 * spec with its code, a team's deployer refused, a team's admin only with the balancer's host
 * and root in its scope, a team seeing only its own pools, `show` with members and the agent's
 * last report, and every change published on the bus.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { BalancerMember, BalancerShow, BalancerSpec, BalancerView } from '../../api/index.js';
import { CHANNELS } from '../../bus/index.js';
import { assertError, assertPeopleOnly, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';
import type { BalancerMembersSource } from './balancers.js';

let t: TestApp;
let agent: string;
const published: string[] = [];

const WEB_SEL = 'cop=acme,owt=web,pdl=shop,service=api';
const MAIL_SEL = 'cop=acme,owt=mail';
const haproxy: BalancerSpec = { selector: WEB_SEL, host: 'lb1', driver: 'haproxy', socket: '/run/haproxy/admin.sock', backend: 'shop' };
const nginx: BalancerSpec = { selector: WEB_SEL, host: 'lb1', driver: 'nginx', file: '/etc/nginx/conf.d/shop.conf' };
const keepalived: BalancerSpec = {
  selector: WEB_SEL,
  host: 'lb1',
  driver: 'keepalived',
  file: '/etc/keepalived/noops.conf',
  vip: '10.0.0.10:80',
};

before(async () => {
  t = await startTestApp();
  agent = await t.agent('lb1');
  await t.agent('lb2');
  t.ctx.bus.subscribe(CHANNELS.balancers, { change: (name) => published.push(name), resync: () => undefined });
});
after(() => t.close());

routeTest(
  'PUT /api/v1/balancers/:name',
  'the admin sets a pool of each driver (201), then replaces one (200, made when and by whom kept); the bus hears each',
  async () => {
    const res = await t.call(t.adminToken, 'PUT', '/api/v1/balancers/web', {
      ...haproxy,
      selector: ' service=api , cop=acme,pdl=shop,owt=web',
    });
    assert.equal(res.statusCode, 201, res.body);
    const made = res.json() as BalancerView;
    assert.deepEqual(
      { ...made, createdAt: '', updatedAt: '' },
      { name: 'web', ...haproxy, createdBy: 'admin', createdAt: '', updatedAt: '' },
      'the selector is stored in its canonical form',
    );
    assert.ok(published.includes('web'));

    const moved = await t.call(t.adminToken, 'PUT', '/api/v1/balancers/web', { ...haproxy, host: 'lb2', backend: 'shop2', process: 'web' });
    assert.equal(moved.statusCode, 200, moved.body);
    assert.deepEqual(
      { ...(moved.json() as BalancerView), updatedAt: '' },
      {
        name: 'web',
        ...haproxy,
        host: 'lb2',
        backend: 'shop2',
        process: 'web',
        createdBy: 'admin',
        createdAt: made.createdAt,
        updatedAt: '',
      },
    );

    const byTag = await t.call(t.adminToken, 'PUT', '/api/v1/balancers/edge', { ...nginx, selector: TREE.JOB, pidFile: '/run/nginx.pid' });
    assert.equal(byTag.statusCode, 201, byTag.body);
    assert.equal(byTag.json().selector, 'cop=acme,owt=web,pdl=shop,service=api,job=web', 'a tag is read as the selector of its pairs');
    assert.equal(byTag.json().pidFile, '/run/nginx.pid');
    const lvs = await t.call(t.adminToken, 'PUT', '/api/v1/balancers/lvs', { ...keepalived, vip: '[fd00::10]:443' });
    assert.equal(lvs.statusCode, 201, lvs.body);
    assert.deepEqual(published.slice(-3), ['web', 'edge', 'lvs']);
    await t.call(t.adminToken, 'DELETE', '/api/v1/balancers/edge');
    await t.call(t.adminToken, 'DELETE', '/api/v1/balancers/lvs');
  },
);

routeTest('PUT /api/v1/balancers/:name', 'an nginx pool with --api: its control address stored, listed and shown', async () => {
  const byTag = await t.call(t.adminToken, 'PUT', '/api/v1/balancers/edge', nginx);
  assert.equal(byTag.statusCode, 201, byTag.body);
  // nginx through its control API (noops' Lua blocks): stored and shown as given
  const lua = await t.call(t.adminToken, 'PUT', '/api/v1/balancers/edge-lua', {
    ...nginx,
    file: '/etc/nginx/noops/edge.conf',
    api: '127.0.0.1:8091',
  });
  assert.equal(lua.statusCode, 201, lua.body);
  assert.equal((lua.json() as BalancerView).api, '127.0.0.1:8091');
  const listed = (await t.call(t.adminToken, 'GET', '/api/v1/balancers')).json().balancers as BalancerView[];
  assert.deepEqual(
    listed.filter((b) => b.driver === 'nginx').map((b) => [b.name, b.api, b.socket]),
    [
      ['edge', undefined, undefined],
      ['edge-lua', '127.0.0.1:8091', undefined],
    ],
  );
  assert.equal(((await t.call(t.adminToken, 'GET', '/api/v1/balancers/edge-lua')).json() as BalancerShow).api, '127.0.0.1:8091');
  const v6 = await t.call(t.adminToken, 'PUT', '/api/v1/balancers/edge-lua', {
    ...nginx,
    file: '/etc/nginx/noops/edge.conf',
    api: '[::1]:8091',
  });
  assert.equal(v6.statusCode, 200, v6.body);
  await t.call(t.adminToken, 'DELETE', '/api/v1/balancers/edge-lua');
  await t.call(t.adminToken, 'DELETE', '/api/v1/balancers/edge');
});

routeTest(
  'PUT /api/v1/balancers/:name',
  'each check of the spec refuses with its code and names the field; nothing is stored',
  async () => {
    const cases: [string, unknown, number, string, RegExp][] = [
      [
        'haproxy without --socket',
        { ...haproxy, socket: undefined },
        400,
        'NOOPS_E_BALANCER_INVALID',
        /--socket: the haproxy driver needs --socket/,
      ],
      ['haproxy without --backend', { ...haproxy, backend: undefined }, 400, 'NOOPS_E_BALANCER_INVALID', /--backend/],
      ['nginx without --file', { ...nginx, file: undefined }, 400, 'NOOPS_E_BALANCER_INVALID', /the nginx driver needs --file/],
      ['keepalived without --vip', { ...keepalived, vip: undefined }, 400, 'NOOPS_E_BALANCER_INVALID', /needs --vip/],
      ['keepalived without --file', { ...keepalived, file: undefined }, 400, 'NOOPS_E_BALANCER_INVALID', /needs --file/],
      ['a vip without a port', { ...keepalived, vip: '10.0.0.10' }, 400, 'NOOPS_E_BALANCER_INVALID', /--vip: a vip is ADDR:PORT/],
      ['a vip that is no address', { ...keepalived, vip: '10.0.0.300:80' }, 400, 'NOOPS_E_BALANCER_INVALID', /--vip/],
      ['a vip port out of range', { ...keepalived, vip: '10.0.0.1:70000' }, 400, 'NOOPS_E_BALANCER_INVALID', /--vip/],
      ['a relative socket', { ...haproxy, socket: 'run/haproxy.sock' }, 400, 'NOOPS_E_BALANCER_INVALID', /--socket: give an absolute path/],
      ['a path with ..', { ...nginx, file: '/etc/nginx/../passwd' }, 400, 'NOOPS_E_BALANCER_INVALID', /--file: give an absolute path/],
      ['a relative pid file', { ...nginx, pidFile: 'nginx.pid' }, 400, 'NOOPS_E_BALANCER_INVALID', /--pid-file/],
      [
        'a key the driver does not take',
        { ...haproxy, vip: '10.0.0.1:80' },
        400,
        'NOOPS_E_BALANCER_INVALID',
        /the haproxy driver takes no --vip/,
      ],
      ['a pid file for haproxy', { ...haproxy, pidFile: '/run/haproxy.pid' }, 400, 'NOOPS_E_BALANCER_INVALID', /takes no --pid-file/],
      ['an api for haproxy', { ...haproxy, api: '127.0.0.1:8091' }, 400, 'NOOPS_E_BALANCER_INVALID', /takes no --api/],
      ['an api without a port', { ...nginx, api: '127.0.0.1' }, 400, 'NOOPS_E_BALANCER_INVALID', /--api: the control API is ADDR:PORT/],
      [
        'an api that is a name',
        { ...nginx, api: 'localhost:8091' },
        400,
        'NOOPS_E_BALANCER_INVALID',
        /--api: the control API is ADDR:PORT/,
      ],
      [
        "an api on another host's address",
        { ...nginx, api: '10.9.9.9:8091' },
        400,
        'NOOPS_E_BALANCER_INVALID',
        /--api: 10\.9\.9\.9:8091 is neither a loopback address nor lb1's/,
      ],
      ['an unknown driver', { ...haproxy, driver: 'f5' }, 400, 'NOOPS_E_BALANCER_INVALID', /a driver is one of haproxy, nginx, keepalived/],
      ['an unknown field', { ...haproxy, weight: 3 }, 400, 'NOOPS_E_BALANCER_INVALID', /unknown field "weight"/],
      ['a bad backend', { ...haproxy, backend: 'shop web' }, 400, 'NOOPS_E_BALANCER_INVALID', /--backend/],
      ['a bad process', { ...haproxy, process: 'Web!' }, 400, 'NOOPS_E_BALANCER_INVALID', /--process/],
      ['no host', { ...haproxy, host: undefined }, 400, 'NOOPS_E_BALANCER_INVALID', /--host/],
      ['an unknown host', { ...haproxy, host: 'nohost' }, 404, 'NOOPS_E_HOST_UNKNOWN', /no host nohost/],
      ['an invalid selector', { ...haproxy, selector: 'cop=acme,nope' }, 400, 'NOOPS_E_SELECTOR_INVALID', /has no "="/],
      ['an unknown level', { ...haproxy, selector: 'region=eu' }, 400, 'NOOPS_E_SELECTOR_INVALID', /region/],
      ['an empty selector', { ...haproxy, selector: ' ' }, 400, 'NOOPS_E_BALANCER_INVALID', /-t: give the selector/],
    ];
    for (const [what, body, status, code, message] of cases) {
      const res = await t.call(t.adminToken, 'PUT', '/api/v1/balancers/bad', body);
      assertError(res, status, code, what);
      assert.match(res.json().message, message, what);
      assert.ok(res.json().hint.length > 0, `${what}: a hint`);
    }
    assertError(
      await t.call(t.adminToken, 'PUT', '/api/v1/balancers/Bad_Name', haproxy),
      400,
      'NOOPS_E_BALANCER_INVALID',
      'a name out of form',
    );
    assertError(await t.call(t.adminToken, 'PUT', `/api/v1/balancers/${'a'.repeat(64)}`, haproxy), 400, 'NOOPS_E_BALANCER_INVALID');
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/balancers/bad'), 404, 'NOOPS_E_BALANCER_UNKNOWN', 'nothing stored');
  },
);

routeTest(
  'PUT /api/v1/balancers/:name',
  "a team's deployer may not set a pool; a team's admin only with the host and root in its scope",
  async () => {
    await assertPeopleOnly(t, 'PUT', '/api/v1/balancers/p', haproxy, agent);
    const deployer = await t.team(TREE.WEB, 'deployer');
    assertError(await t.call(deployer, 'PUT', '/api/v1/balancers/p', haproxy), 403, 'NOOPS_E_FORBIDDEN', 'deployer');
    const webAdmin = await t.team(TREE.WEB, 'admin');
    // lb1 is assigned to no node: only the server's admin drives a balancer there
    assertError(await t.call(webAdmin, 'PUT', '/api/v1/balancers/p', haproxy), 403, 'NOOPS_E_FORBIDDEN', 'unassigned host');
    const mailAdmin = await t.team(TREE.MAIL, 'admin');
    assertError(await t.call(mailAdmin, 'PUT', '/api/v1/balancers/p', haproxy), 403, 'NOOPS_E_FORBIDDEN', 'another team');
    assert.equal((await t.call(t.adminToken, 'PUT', '/api/v1/hosts/lb1/scope', { scope: TREE.WEB })).statusCode, 200);
    assertError(await t.call(webAdmin, 'PUT', '/api/v1/balancers/p', haproxy), 403, 'NOOPS_E_ROOT_NOT_ALLOWED', 'no root under the host');
    assert.equal((await t.call(t.adminToken, 'PUT', '/api/v1/grants/root', { scope: TREE.WEB })).statusCode < 300, true);
    assert.equal((await t.call(webAdmin, 'PUT', '/api/v1/balancers/p', haproxy)).statusCode, 201);
    // a selector that may match beyond the team's subtree stays the server's admin's
    assertError(await t.call(webAdmin, 'PUT', '/api/v1/balancers/p', { ...haproxy, selector: 'service=api' }), 403, 'NOOPS_E_FORBIDDEN');
    assert.equal((await t.call(t.adminToken, 'DELETE', '/api/v1/balancers/p')).statusCode, 200);
    await t.call(t.adminToken, 'DELETE', `/api/v1/grants/root/${TREE.WEB}`);
    await t.call(t.adminToken, 'PUT', '/api/v1/hosts/lb1/scope', { scope: null });
  },
);

routeTest('GET /api/v1/balancers', 'lists the pools by name; a team sees only those whose selector lies in its subtree', async () => {
  await assertPeopleOnly(t, 'GET', '/api/v1/balancers', undefined, agent);
  await t.call(t.adminToken, 'PUT', '/api/v1/balancers/web', haproxy);
  await t.call(t.adminToken, 'PUT', '/api/v1/balancers/mail', { ...nginx, selector: MAIL_SEL });
  await t.call(t.adminToken, 'PUT', '/api/v1/balancers/all-api', { ...nginx, selector: 'service=api' });
  const all = (await t.call(t.adminToken, 'GET', '/api/v1/balancers')).json().balancers as BalancerView[];
  assert.deepEqual(
    all.map((b) => b.name),
    ['all-api', 'mail', 'web'],
  );
  const webViewer = await t.team(TREE.WEB, 'viewer');
  const seen = await t.call(webViewer, 'GET', '/api/v1/balancers');
  assert.equal(seen.statusCode, 200);
  assert.deepEqual(
    (seen.json().balancers as BalancerView[]).map((b) => b.name),
    ['web'],
  );
  const mailViewer = await t.team(TREE.MAIL, 'viewer');
  assert.deepEqual(
    ((await t.call(mailViewer, 'GET', '/api/v1/balancers')).json().balancers as BalancerView[]).map((b) => b.name),
    ['mail'],
  );
});

routeTest(
  'GET /api/v1/balancers/:name',
  "shows a pool with its members (the team's own) and its agent's last report; unknown or unseen: 404",
  async () => {
    await t.call(t.adminToken, 'PUT', '/api/v1/balancers/web', haproxy);
    const bare = await t.call(t.adminToken, 'GET', '/api/v1/balancers/web');
    assert.equal(bare.statusCode, 200, bare.body);
    assert.deepEqual(
      { ...(bare.json() as BalancerShow), createdAt: '', updatedAt: '' },
      {
        name: 'web',
        ...haproxy,
        createdBy: 'admin',
        createdAt: '',
        updatedAt: '',
        members: [],
        report: null,
      },
    );

    const member = (host: string, tag: string, id: string): BalancerMember => ({
      host,
      address: '10.0.0.1',
      port: 8080,
      tag,
      version: 'abc1234',
      state: 'ready',
      process: 'web',
      id,
    });
    const a = member('h1', TREE.CLUSTER, 'h1_web_web');
    const b = { ...member('h2', TREE.CLUSTER, 'h2_web_web'), state: 'drain' as const };
    const c = member('h3', TREE.CLUSTER, 'h3_web_web');
    const outside = member('h9', 'cop.acme_owt.mail_pdl.post_service.api_job.web_cluster.prod', 'h9_web_web');
    const source: BalancerMembersSource = { members: async (name) => (name === 'web' ? [a, b, c, outside] : undefined) };
    (t.ctx as unknown as { balancers?: BalancerMembersSource }).balancers = source;
    try {
      const report = {
        name: 'web',
        index: 7,
        ok: true,
        at: '2026-01-01T00:00:00.000Z',
        members: [
          { id: 'h1_web_web', state: 'ready', connections: 3 },
          { id: 'h2_web_web', state: 'drain', connections: 1 },
        ],
      };
      assert.equal(await t.ctx.store.putBalancerReport('web', 'lb1', JSON.stringify(report), report.at), true);
      const shown = (await t.call(t.adminToken, 'GET', '/api/v1/balancers/web')).json() as BalancerShow;
      assert.deepEqual(shown.report, report);
      assert.deepEqual(shown.members, [
        { ...a, applied: { state: 'ready', connections: 3 } },
        { ...b, applied: { state: 'drain', connections: 1 } },
        { ...c, applied: { state: 'absent', connections: null } },
        { ...outside, applied: { state: 'absent', connections: null } },
      ]);
      const webViewer = await t.team(TREE.WEB, 'viewer');
      const scoped = (await t.call(webViewer, 'GET', '/api/v1/balancers/web')).json() as BalancerShow;
      assert.deepEqual(
        scoped.members.map((m) => m.host),
        ['h1', 'h2', 'h3'],
        "a team sees only its own instances among a pool's members",
      );
      await t.call(t.adminToken, 'PUT', '/api/v1/balancers/mail', { ...nginx, selector: MAIL_SEL });
      assertError(await t.call(webViewer, 'GET', '/api/v1/balancers/mail'), 404, 'NOOPS_E_BALANCER_UNKNOWN', "another team's pool");
    } finally {
      delete (t.ctx as unknown as { balancers?: BalancerMembersSource }).balancers;
    }
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/balancers/nope'), 404, 'NOOPS_E_BALANCER_UNKNOWN');
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/balancers/Bad_Name'), 400, 'NOOPS_E_BALANCER_INVALID');
  },
);

routeTest(
  'DELETE /api/v1/balancers/:name',
  "the admin removes a pool and its report (the bus hears it); a team's deployer may not; unknown: 404",
  async () => {
    await t.call(t.adminToken, 'PUT', '/api/v1/balancers/gone', haproxy);
    await t.ctx.store.putBalancerReport('gone', 'lb1', '{"name":"gone","index":1,"ok":true,"at":"x","members":[]}', 'x');
    await assertPeopleOnly(t, 'DELETE', '/api/v1/balancers/gone', undefined, agent);
    const deployer = await t.team(TREE.WEB, 'deployer');
    assertError(await t.call(deployer, 'DELETE', '/api/v1/balancers/gone'), 403, 'NOOPS_E_FORBIDDEN', 'deployer');
    const viewerOfMail = await t.team(TREE.MAIL, 'admin');
    assertError(await t.call(viewerOfMail, 'DELETE', '/api/v1/balancers/gone'), 404, 'NOOPS_E_BALANCER_UNKNOWN', 'unseen');
    const res = await t.call(t.adminToken, 'DELETE', '/api/v1/balancers/gone');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().name, 'gone');
    assert.equal(published.at(-1), 'gone');
    assertError(await t.call(t.adminToken, 'GET', '/api/v1/balancers/gone'), 404, 'NOOPS_E_BALANCER_UNKNOWN');
    assert.equal(
      (await t.ctx.store.listBalancerReports()).find((r) => r.name === 'gone'),
      undefined,
    );
    assertError(await t.call(t.adminToken, 'DELETE', '/api/v1/balancers/gone'), 404, 'NOOPS_E_BALANCER_UNKNOWN');
  },
);
