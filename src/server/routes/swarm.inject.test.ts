/** The tracker's route and the package's byte ranges, through `inject()` (docs/packages-p2p.md). */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { DesiredState } from '../../api/index.js';
import type { SigningKey } from '../../release/index.js';
import { checkKeyedTicket, checkTable, checkTicket, digestOf, peerKeyOf, SEED, type SwarmAnswer } from '../../swarm/index.js';
import { assertError, routeTest, startTestApp, TREE, type TestApp } from '../test-app.js';

let t: TestApp;
const agents: Record<string, string> = {};
let sha256: string;
let signing: SigningKey;

before(async () => {
  // the test package is small: the tracker tracks it as if it were large (one test below keeps the default)
  t = await startTestApp({ longPollMs: 50, swarmWholeBelowBytes: 0 });
  agents.h1 = await t.agent('h1');
  // h2 states where its peers reach it when it joins (`--peer-url`): another address than the server sees it at
  const joined = await t.call(t.joinToken, 'POST', '/api/v1/agent/join', { name: 'h2', labels: {}, peerUrl: 'http://198.18.0.2:7701/' });
  assert.equal(joined.statusCode, 200, joined.body);
  agents.h2 = joined.json().token;
  agents.h3 = await t.agent('h3');
  sha256 = (await t.release(TREE.JOB, 'abcdef001')).json().sha256;
  await t.cluster(TREE.CLUSTER, ['h1', 'h2']);
  await t.call(t.adminToken, 'POST', '/api/v1/deployments', { tag: TREE.CLUSTER, version: 'abcdef001', policy: { batch: '100%' } });
  signing = (await t.call(agents.h1!, 'GET', '/api/v1/agent/desired?after=-1')).json().signing;
});
after(() => t.close());

const url = (sha = sha256): string => `/api/v1/agent/pieces/${sha}`;

routeTest(
  'POST /api/v1/agent/pieces/:sha256',
  'an agent whose desired state names the package gets the signed piece table, a ticket naming it, and its pieces; the next is sent to it',
  async () => {
    const res = await t.call(agents.h1!, 'POST', url(), { have: [], table: true, serve: { port: 7701 } });
    assert.equal(res.statusCode, 200, res.body);
    const a = res.json() as SwarmAnswer;
    assert.equal(checkTable(signing, sha256, a.table!), undefined, 'the table verifies with the key agents pin');
    const pkg = (await t.call(agents.h1!, 'GET', `/api/v1/artifacts/${sha256}`)).rawPayload;
    assert.equal(a.table!.size, pkg.length);
    assert.equal(a.table!.digests[0], createHash('sha256').update(pkg).digest('hex'), 'a small package is one piece');
    assert.deepEqual(a.assignments, [{ piece: 0, from: SEED }], 'nobody else holds it: the server');
    const ticket = checkTicket(signing, a.ticket, sha256, Date.now());
    assert.equal('host' in ticket && ticket.host, 'h1');
    assert.deepEqual('addresses' in ticket && ticket.addresses, ['127.0.0.1'], 'good only from where the server sees h1');
    // h1 holds it now; h2 is sent to h1, at the address the server sees it at
    await t.call(agents.h1!, 'POST', url(), { have: [0], done: [{ piece: 0, from: SEED }], complete: true, serve: { port: 7701 } });
    const b = (await t.call(agents.h2!, 'POST', url(), { have: [] })).json() as SwarmAnswer;
    assert.equal(b.table, undefined, 'not asked for');
    const [{ ticket: keyed, ...where }] = b.assignments as [SwarmAnswer['assignments'][number]];
    assert.deepEqual(where, { piece: 0, from: 'h1', url: 'http://127.0.0.1:7701' });
    // with a ticket keyed for h1 (which said it serves, with its token): h1 checks it with the key of
    // its own token, no other agent's key does
    assert.ok(keyed, 'a ticket keyed for h1');
    const k = checkKeyedTicket(peerKeyOf(agents.h1!, signing.keyId), keyed, sha256, Date.now());
    assert.deepEqual('refused' in k ? k : [k.host, k.addresses], ['h2', ['127.0.0.1']]);
    assert.ok('refused' in checkKeyedTicket(peerKeyOf(agents.h3!, signing.keyId), keyed, sha256, Date.now()));
    assert.ok('refused' in checkKeyedTicket(peerKeyOf(agents.h2!, signing.keyId), keyed, sha256, Date.now()));
    assert.ok('refused' in checkKeyedTicket(peerKeyOf(agents.h1!, 'another-server-key'), keyed, sha256, Date.now()));
  },
);

routeTest(
  'POST /api/v1/agent/pieces/:sha256',
  'an agent that checks BLAKE3 gets a table of BLAKE3 digests, signed apart from the sha256 one; one that does not say gets sha256',
  async () => {
    const pkg = (await t.call(agents.h1!, 'GET', `/api/v1/artifacts/${sha256}`)).rawPayload;
    const b3 = (await t.call(agents.h1!, 'POST', url(), { have: [], table: true, digest: 'blake3' })).json() as SwarmAnswer;
    assert.equal(b3.table!.digest, 'blake3');
    assert.equal(b3.table!.digests[0], digestOf('blake3', pkg));
    assert.notEqual(b3.table!.digests[0], createHash('sha256').update(pkg).digest('hex'));
    assert.equal(checkTable(signing, sha256, b3.table!), undefined, 'it verifies with the key agents pin');
    // its signature covers what the digests are: the same digests said to be sha256 are refused
    const { digest: _, ...relabelled } = b3.table!;
    assert.match(checkTable(signing, sha256, relabelled)!, /changed after it was signed/);
    assert.equal(checkTable(signing, sha256, { ...b3.table!, digest: 'md5' as 'blake3' })?.includes('does not check'), true);
    const plain = (await t.call(agents.h1!, 'POST', url(), { have: [], table: true })).json() as SwarmAnswer;
    assert.equal(plain.table!.digest, undefined, 'the first format, for agents that do not name one');
    assert.equal(plain.table!.digests[0], createHash('sha256').update(pkg).digest('hex'));
    assert.equal(checkTable(signing, sha256, plain.table!), undefined);
    assert.match(checkTable(signing, sha256, { ...plain.table!, digest: 'blake3' })!, /changed after it was signed/);
  },
);

routeTest(
  'POST /api/v1/agent/pieces/:sha256',
  "a package smaller than the server's threshold gets no piece table and no assignment: the agent takes it whole",
  async () => {
    const size = (await t.call(agents.h1!, 'GET', `/api/v1/artifacts/${sha256}`)).rawPayload.length;
    t.ctx.config.swarmWholeBelowBytes = size + 1;
    try {
      const a = (await t.call(agents.h2!, 'POST', url(), { have: [], table: true })).json() as SwarmAnswer;
      assert.equal(a.table, undefined, 'no table: fetchPieces throws NoPieces and the agent downloads it whole');
      assert.deepEqual(a.assignments, []);
    } finally {
      t.ctx.config.swarmWholeBelowBytes = 0;
    }
  },
);

routeTest(
  'GET /api/v1/agent/desired',
  "a package smaller than the server's threshold is marked whole in the desired state, so agents need not ask the tracker; a larger one is not",
  async () => {
    const desired = async (): Promise<DesiredState> =>
      (await t.call(agents.h1!, 'GET', '/api/v1/agent/desired?after=-1')).json() as DesiredState;
    const tracked = await desired();
    assert.equal(tracked.instances[0]!.sha256, sha256);
    assert.equal(tracked.instances[0]!.whole, undefined, 'this server splits every package (threshold 0)');
    const size = (await t.call(agents.h1!, 'GET', `/api/v1/artifacts/${sha256}`)).rawPayload.length;
    t.ctx.config.swarmWholeBelowBytes = size + 1;
    try {
      t.ctx.desired.forgetAll(); // resolved again, as after a restart with the new threshold
      assert.equal((await desired()).instances[0]!.whole, true);
    } finally {
      t.ctx.config.swarmWholeBelowBytes = 0;
      t.ctx.desired.forgetAll();
    }
  },
);

routeTest(
  'POST /api/v1/agent/pieces/:sha256',
  'a host whose desired state does not name the package is 404; people and bad bodies are refused',
  async () => {
    assertError(await t.call(agents.h3!, 'POST', url(), { have: [] }), 404, 'NOOPS_E_NOT_FOUND', 'not its package');
    assertError(await t.call(agents.h1!, 'POST', url('0'.repeat(64)), { have: [] }), 404, 'NOOPS_E_NOT_FOUND');
    assertError(await t.call(agents.h1!, 'POST', url('ABC'), { have: [] }), 400, 'NOOPS_E_INPUT');
    for (const body of [
      {},
      { have: [-1] },
      { have: [], extra: 1 },
      { have: [], serve: { url: 'ftp://x' } },
      { have: [], failed: [{ piece: 0, from: 'h1', why: 'x' }] },
      { have: [], table: true, digest: 'md5' },
    ])
      assertError(await t.call(agents.h1!, 'POST', url(), body), 400, 'NOOPS_E_INPUT', JSON.stringify(body));
    assertError(await t.call(null, 'POST', url(), { have: [] }), 401, 'NOOPS_E_UNAUTHORIZED');
    for (const token of [t.adminToken, t.joinToken, await t.team(TREE.ROOT, 'admin')])
      assertError(await t.call(token, 'POST', url(), { have: [] }), 403, 'NOOPS_E_FORBIDDEN', 'not an agent');
  },
);

routeTest('GET /api/v1/artifacts/:sha256', 'one byte range of a package is 206 with its content-range; a bad range is 400', async () => {
  const whole = (await t.call(agents.h1!, 'GET', `/api/v1/artifacts/${sha256}`)).rawPayload;
  const ranged = (range: string) =>
    t.app.inject({ method: 'GET', url: `/api/v1/artifacts/${sha256}`, headers: { authorization: `Bearer ${agents.h1}`, range } });
  const res = await ranged('bytes=2-9');
  assert.equal(res.statusCode, 206);
  assert.equal(res.headers['content-range'], `bytes 2-9/${whole.length}`);
  assert.ok(res.rawPayload.equals(whole.subarray(2, 10)));
  for (const bad of ['bytes=5-2', `bytes=0-${whole.length}`, 'bytes=0-1,4-5', 'items=0-1']) {
    const r = await ranged(bad);
    assert.equal(r.statusCode, 400, bad);
    assert.equal(r.json().code, 'NOOPS_E_INPUT');
  }
});

/** The tracker's answer to `token` asking from `remoteAddress` (inject's own is 127.0.0.1). */
const askFrom = (token: string, body: unknown, remoteAddress = '127.0.0.1') =>
  t.app.inject({ method: 'POST', url: url(), headers: { authorization: `Bearer ${token}` }, payload: body as object, remoteAddress });

const ticketOf = (res: { json(): unknown }): unknown => {
  const c = checkTicket(signing, (res.json() as SwarmAnswer).ticket, sha256, Date.now());
  return 'addresses' in c ? c.addresses : c;
};

routeTest(
  'POST /api/v1/agent/pieces/:sha256',
  "a host's ticket is good only from the address the server sees it at (IPv4 in IPv6 as IPv4), and where it serves when that is another address it may use",
  async () => {
    assert.deepEqual(ticketOf(await askFrom(agents.h1!, { have: [] }, '::ffff:198.18.0.9')), ['198.18.0.9']);
    assert.deepEqual(ticketOf(await askFrom(agents.h1!, { have: [], serve: { port: 7701 } }, '2001:db8::9')), ['2001:db8::9']);
    // its --peer-url of join: peers are sent there, and it may fetch from that address too
    const h2 = await askFrom(agents.h2!, { have: [], serve: { url: 'http://198.18.0.2:7701' } });
    assert.equal(h2.statusCode, 200, h2.body);
    assert.deepEqual(ticketOf(h2), ['127.0.0.1', '198.18.0.2']);
  },
);

routeTest(
  'POST /api/v1/agent/pieces/:sha256',
  'attack: an agent that says it serves at an address other than where the server sees it (and not the --peer-url it joined with) is refused: its peers are never sent there',
  async () => {
    for (const foreign of ['http://10.9.9.9:80/internal', 'http://metadata.internal/', 'http://198.18.0.3:7701']) {
      const res = await askFrom(agents.h1!, { have: [], table: true, serve: { url: foreign } });
      assertError(res, 403, 'NOOPS_E_PEER_URL', foreign);
      assert.match(res.json().message, /h1 says it serves pieces at .* but this server sees it at 127\.0\.0\.1/);
      assert.match(res.json().hint, /--trust-peer-urls/);
    }
    const other = await askFrom(agents.h2!, { have: [], serve: { url: 'http://198.18.0.3:7701' } });
    assertError(other, 403, 'NOOPS_E_PEER_URL', 'not the URL h2 joined with');
    assert.match(other.json().message, /joined with --peer-url http:\/\/198\.18\.0\.2:7701/);
    // its own address, any port or path: taken
    assert.equal((await askFrom(agents.h1!, { have: [], serve: { url: 'http://127.0.0.1:7702/' } })).statusCode, 200);
    // a server that trusts stated URLs (`noops server --trust-peer-urls`) takes any, and the ticket follows
    t.ctx.config.trustPeerUrls = true;
    try {
      const res = await askFrom(agents.h1!, { have: [], serve: { url: 'http://198.18.0.3:7701' } });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(ticketOf(res), ['127.0.0.1', '198.18.0.3']);
    } finally {
      t.ctx.config.trustPeerUrls = false;
    }
    await askFrom(agents.h1!, { have: [0], complete: true, serve: { port: 7701 } });
  },
);
