import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MEMBER_ID_MAX,
  balancersIndex,
  covers,
  desiredBalancers,
  desiredPool,
  memberId,
  membersOf,
  stateOf,
  type Candidate,
} from './members.js';
import type { DrainMark } from './ports.js';

const SHOP = 'cop.acme_owt.web_pdl.shop_service.hello_job.web_cluster.dev';
const MAIL = 'cop.acme_owt.mail_pdl.post_service.smtp_job.relay_cluster.prod';
const LATER = new Date(Date.now() + 60_000).toISOString();

function cand(host: string, over: Partial<Candidate> = {}): Candidate {
  return {
    host,
    address: `10.0.0.${host.slice(1)}`,
    port: 8080,
    tag: SHOP,
    version: 'aaaaaaaaa',
    process: 'web',
    pid: 100,
    healthy: true,
    ...over,
  };
}

test('a member id is host, process and tag made safe, stable across versions, at most 100 characters', () => {
  assert.equal(memberId('h1', SHOP, 'web'), `h1_web_${SHOP}`);
  assert.equal(memberId('web 1/x', 'cop.a', 'p'), 'web_1_x_p_cop.a');
  const long = memberId('h'.repeat(80), SHOP, 'web');
  assert.equal(long.length, MEMBER_ID_MAX);
  assert.match(long, /^[A-Za-z0-9_.:-]+_[0-9a-f]{12}$/);
  assert.notEqual(long, memberId('h'.repeat(81), SHOP, 'web'), 'the hash suffix tells cut ids apart');
});

test('members: the processes with an address and a port under the selector; drain when a live mark covers them, else ready or maint', () => {
  const candidates = [
    cand('h1'),
    cand('h2', { healthy: false }),
    cand('h3', { address: null }),
    cand('h4', { port: null }),
    cand('h5', { tag: MAIL }),
    cand('h6', { process: 'admin', port: 9090 }),
    cand('h7'),
  ];
  const mark: DrainMark = { host: 'h7', tag: 'cop.acme_owt.web_pdl.shop', version: null, until: LATER, reason: 'test' };
  const members = membersOf({ selector: 'service=hello' }, candidates, [mark]);
  assert.deepEqual(
    members.map((m) => [m.host, m.process, m.state]),
    [
      ['h1', 'web', 'ready'],
      ['h2', 'web', 'maint'],
      ['h6', 'admin', 'ready'],
      ['h7', 'web', 'drain'],
    ],
  );
  assert.deepEqual(
    membersOf({ selector: 'service=hello', process: 'web' }, candidates, []).map((m) => m.host),
    ['h1', 'h2', 'h7'],
    'only `process`',
  );
  assert.deepEqual(members[0], {
    id: `h1_web_${SHOP}`,
    address: '10.0.0.1',
    port: 8080,
    state: 'ready',
    host: 'h1',
    tag: SHOP,
    version: 'aaaaaaaaa',
    process: 'web',
  });
});

test('a mark covers its host, its tag and beneath, and its version only (null: any)', () => {
  const m = { host: 'h1', tag: SHOP, version: 'aaaaaaaaa' };
  const mark = (over: Partial<DrainMark>): DrainMark => ({ host: 'h1', tag: SHOP, version: null, until: LATER, reason: '', ...over });
  assert.equal(covers(mark({}), m), true);
  assert.equal(covers(mark({ version: 'aaaaaaaaa' }), m), true);
  assert.equal(covers(mark({ version: 'bbbbbbbbb' }), m), false, "a new release's instance is not drained by the old one's mark");
  assert.equal(covers(mark({ host: 'h2' }), m), false);
  assert.equal(covers(mark({ tag: 'cop.acme_owt.web' }), m), true, 'a node above');
  assert.equal(covers(mark({ tag: MAIL }), m), false);
});

test('a mark with `above` covers only the replicas numbered above it (a lower count)', () => {
  const mark: DrainMark = { host: 'h1', tag: SHOP, version: null, until: LATER, reason: '', above: 1 };
  const of = (process: string) => ({ host: 'h1', tag: SHOP, version: 'aaaaaaaaa', process });
  assert.equal(covers(mark, of('web')), false, 'the replica kept');
  assert.equal(covers(mark, of('web@2')), true);
  assert.equal(covers(mark, of('worker@3')), true, 'every process of a removed replica');
  assert.equal(covers({ ...mark, above: 2 }, of('web@2')), false);
  assert.equal(stateOf(cand('h1', { process: 'web@2' }), [mark]), 'drain');
  assert.equal(stateOf(cand('h1', {}), [mark]), 'ready');
});

test("a restart's mark covers the processes it stopped, and spares a new one once healthy", () => {
  const mark: DrainMark = { host: 'h1', tag: SHOP, version: null, until: LATER, reason: 'restart', pids: [100] };
  assert.equal(stateOf(cand('h1', {}), [mark]), 'drain', 'the process it stops');
  assert.equal(stateOf(cand('h1', { pid: null, healthy: false }), [mark]), 'drain', 'stopped, not back yet');
  assert.equal(stateOf(cand('h1', { pid: 101, healthy: false }), [mark]), 'drain', 'new, not healthy yet: one change, drain to ready');
  assert.equal(stateOf(cand('h1', { pid: 101 }), [mark]), 'ready', 'new and healthy: in the pool, the mark still there');
  const every: DrainMark = { host: 'h1', tag: SHOP, version: null, until: LATER, reason: 'restart' };
  assert.equal(stateOf(cand('h1', { pid: 101 }), [every]), 'drain', 'a mark of every instance covers it');
  assert.equal(covers(mark, { host: 'h1', tag: SHOP, version: 'aaaaaaaaa' }), true, 'a member known by id alone: covered');
});

test("a restart of one process (`--process web`) drains that process and its replicas, not the tag's other processes", () => {
  const mark: DrainMark = { host: 'h1', tag: SHOP, version: null, until: LATER, reason: 'restart', process: 'web', pids: [100, 102] };
  assert.equal(stateOf(cand('h1', { process: 'web' }), [mark]), 'drain');
  assert.equal(stateOf(cand('h1', { process: 'web@2', pid: 102 }), [mark]), 'drain', 'a replica of it');
  const other = (process: string) => ({ host: 'h1', tag: SHOP, version: 'aaaaaaaaa', process, pid: 103, healthy: false });
  assert.equal(covers(mark, other('admin')), false, 'another process is not covered, healthy or not');
  assert.equal(covers(mark, other('webhooks')), false, 'a name that only starts the same');
  assert.equal(covers(mark, other('web@3')), true, 'a replica of it, even one the restart did not know');
  assert.equal(stateOf(cand('h1', { process: 'admin', pid: 103 }), [mark]), 'ready', 'another process keeps its traffic');
  assert.equal(covers(mark, { host: 'h1', tag: SHOP, version: 'aaaaaaaaa' }), true, 'a member known by id alone: covered');
});

test('the old and the new version of one instance make one member: the one taking traffic, then the later', () => {
  const old = cand('h1', { version: 'aaaaaaaaa' });
  const next = cand('h1', { version: 'bbbbbbbbb', port: 8081, healthy: false });
  const drain: DrainMark = { host: 'h1', tag: SHOP, version: 'aaaaaaaaa', until: LATER, reason: '' };
  assert.deepEqual(
    membersOf({ selector: 'service=hello' }, [next, old], [drain]).map((m) => [m.version, m.state, m.port]),
    [['aaaaaaaaa', 'drain', 8080]],
  );
  assert.deepEqual(
    membersOf({ selector: 'service=hello' }, [old, { ...next, healthy: true }], [drain]).map((m) => [m.version, m.state, m.port]),
    [['bbbbbbbbb', 'ready', 8081]],
  );
});

test("an index is 48 bits, never 0, and changes exactly when a host's pools do", () => {
  const a = desiredBalancers([{ name: 'web', driver: 'haproxy', socket: '/run/h.sock', backend: 'b', members: [] }]);
  assert.ok(a.index > 0 && a.index < 2 ** 48);
  assert.equal(desiredBalancers([{ name: 'web', driver: 'haproxy', socket: '/run/h.sock', backend: 'b', members: [] }]).index, a.index);
  assert.notEqual(desiredBalancers([{ name: 'web', driver: 'haproxy', socket: '/run/x.sock', backend: 'b', members: [] }]).index, a.index);
  assert.notEqual(balancersIndex([]), 0);
});

test("an nginx pool's control API reaches its agent, and moving it is a change of the host's pools", () => {
  const pool = (api?: string) => ({
    name: 'edge',
    selector: 'service=hello',
    host: 'lb1',
    driver: 'nginx' as const,
    file: '/etc/nginx/noops/edge.conf',
    ...(api !== undefined && { api }),
    createdBy: 'admin',
    createdAt: '',
    updatedAt: '',
  });
  assert.deepEqual(desiredPool(pool('127.0.0.1:8091'), []), {
    name: 'edge',
    driver: 'nginx',
    file: '/etc/nginx/noops/edge.conf',
    api: '127.0.0.1:8091',
    members: [],
  });
  assert.equal(desiredPool(pool(), []).api, undefined, 'no --api: file and reload');
  assert.notEqual(balancersIndex([desiredPool(pool('127.0.0.1:8091'), [])]), balancersIndex([desiredPool(pool(), [])]));
});
