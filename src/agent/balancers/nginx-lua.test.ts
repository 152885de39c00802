/**
 * nginx without reloads: a real nginx (two workers) with Debian's Lua module and noops' blocks
 * (`nginxLuaConf`), driven by the applier through the control API. A cold nginx serves the pool
 * of the file; every change reaches both workers without a reload; a drained member gets no new
 * request and its request in flight is counted until it ends; a member that stopped is skipped on
 * a connect error; an empty pool answers 502; a kept-alive client sees no failure through many
 * changes; a pool nginx's API refuses or cannot be reached is `ok: false`, its file written.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { DesiredMember, MemberState } from '../../api/index.js';
import { BalancerApplier } from './applier.js';
import { nginxUpstream } from './nginx.js';
import { nginxLuaConf } from './nginx-lua.js';
import { hit, missingLua, startBackend, startNginx, until, type Backend, type RunningNginx } from './test-daemons.js';
import { freePort } from '../../net/index.js';
import { ownAddress } from './validate.js';

const skip = missingLua();
let dir: string;
let file: string;
let api: string;
let nginx: RunningNginx;
let a: Backend;
let b: Backend;
const applier = new BalancerApplier();
let index = 0;

function member(id: string, port: number, state: MemberState): DesiredMember {
  return { id, address: '127.0.0.1', port, state, host: 'h1', tag: 'cop.x_job.web', version: 'abcdef1', process: 'web' };
}

async function startLuaNginx(): Promise<RunningNginx> {
  const lua = join(dir, 'lua.conf');
  writeFileSync(lua, nginxLuaConf([{ name: 'web', upstream: 'web', file, api }]));
  return startNginx(file, 'web', { lua });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'noops-nginx-lua-'));
  file = join(dir, 'web.conf');
  if (skip) return;
  [a, b] = await Promise.all([startBackend('a'), startBackend('b')]);
  api = `127.0.0.1:${await freePort()}`;
  // what the agent wrote before nginx started: nginx reads it at start (init_by_lua)
  writeFileSync(file, nginxUpstream('web', [member('h1_a', a.port, 'ready')], 'web'));
  nginx = await startLuaNginx();
});
after(async () => {
  await nginx?.stop();
  await Promise.all([a, b].map((s) => s?.close()));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The test's own request to the control API, each on a new connection. The agent's PUTs keep
 * theirs alive, and nginx closes one after an error answer: a request that reused it would fail
 * before any answer ("fetch failed"). The agent's PUT goes again then (nginx-lua.ts `putOnce`);
 * the test's must not meet one at all.
 */
const once = new Agent({ pipelining: 0 });
after(() => once.close());
async function control(path: string, init: { method?: 'GET' | 'PUT'; body?: string } = {}) {
  const res = await request(`http://${api}${path}`, { method: init.method ?? 'GET', body: init.body, dispatcher: once });
  return { status: res.statusCode, text: () => res.body.text(), json: () => res.body.json() };
}

const apply = async (members: DesiredMember[], at = api) => {
  const [r] = await applier.apply({ index: ++index, pools: [{ name: 'web', driver: 'nginx', file, api: at, members }] });
  return r!;
};

/** Who answered `n` requests through nginx (each a new connection), counted by name. */
async function spread(n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const name = await hit(nginx.url);
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

test('a cold nginx serves the pool of its file, before the agent speaks', { skip }, async () => {
  assert.deepEqual(await spread(6), { a: 6 });
});

test('changes reach every worker at once, without a reload; drain counts the request in flight until it ends', { skip }, async () => {
  const both = await apply([member('h1_a', a.port, 'ready'), member('h1_b', b.port, 'ready')]);
  assert.equal(both.ok, true, both.error);
  assert.deepEqual(
    both.members.map((m) => [m.id, m.state]),
    [
      ['h1_a', 'ready'],
      ['h1_b', 'ready'],
    ],
  );
  const aBefore = a.hits;
  const s = await spread(20);
  assert.ok(s.a! > 0 && s.b! > 0 && s.a! + s.b! === 20, `both members serve: ${JSON.stringify(s)}`);
  assert.match(
    readFileSync(file, 'utf8'),
    new RegExp(`server 127\\.0\\.0\\.1:${b.port}; # h1_b ready`),
    'the file follows, for the next start',
  );

  // a request held at a, then a drained: no new request reaches it, the held one is counted
  const total = a.hits + b.hits;
  const held = fetch(`${nginx.url}/hold`, { headers: { connection: 'close' } }).then((r) => r.text());
  await until('the held request to reach a member', () => a.hits + b.hits > total);
  const holder = a.hits > aBefore + s.a! ? 'h1_a' : 'h1_b';
  const [drained, other, otherName] = holder === 'h1_a' ? (['h1_a', 'h1_b', 'b'] as const) : (['h1_b', 'h1_a', 'a'] as const);
  const states = (d: MemberState): DesiredMember[] => [
    member('h1_a', a.port, drained === 'h1_a' ? d : 'ready'),
    member('h1_b', b.port, drained === 'h1_b' ? d : 'ready'),
  ];
  const draining = await apply(states('drain'));
  assert.equal(draining.ok, true, draining.error);
  assert.deepEqual(
    draining.members.find((m) => m.id === drained),
    { id: drained, state: 'drain', connections: 1 },
  );
  assert.deepEqual(
    draining.members.find((m) => m.id === other),
    { id: other, state: 'ready', connections: 0 },
  );
  assert.equal(applier.draining(), true, 'the loop reports every 250 ms while it drains');
  assert.deepEqual(await spread(12), { [otherName]: 12 }, 'both workers stopped sending to the drained member at once');
  a.release();
  b.release();
  assert.equal(await held, drained === 'h1_a' ? 'a' : 'b', 'the request in flight ended normally');
  const idle = await apply(states('drain'));
  assert.deepEqual(
    idle.members.find((m) => m.id === drained),
    { id: drained, state: 'drain', connections: 0 },
  );
  assert.equal(applier.draining(), false);
  assert.equal(nginx.reloads(), 0, 'no change reloaded nginx');
});

test('a ready member that stopped: a connect error tries another; an empty pool answers 502', { skip }, async () => {
  const gone = await freePort(); // nothing listens there
  await apply([member('h1_a', a.port, 'ready'), member('h1_z', gone, 'ready')]);
  assert.deepEqual(await spread(10), { a: 10 }, 'every request served: the refused ones were retried at a');
  await apply([]);
  const res = await fetch(nginx.url, { headers: { connection: 'close' } });
  assert.equal(res.status, 502);
  await res.text();
});

test('a kept-alive client through many changes: no failed request', { skip }, async () => {
  await apply([member('h1_a', a.port, 'ready'), member('h1_b', b.port, 'ready')]);
  const dispatcher = new Agent({ connections: 4, keepAliveTimeout: 30_000 });
  let running = true;
  const count = { ok: 0, failed: [] as string[] };
  const loop = async (): Promise<void> => {
    while (running) {
      try {
        const res = await request(nginx.url, { dispatcher });
        const body = await res.body.text();
        if (res.statusCode === 200) count.ok++;
        else count.failed.push(`${res.statusCode} ${body}`);
      } catch (err) {
        count.failed.push((err as Error).message);
      }
    }
  };
  const loops = Array.from({ length: 4 }, loop);
  try {
    for (let i = 0; i < 20; i++) {
      const [ra, rb]: MemberState[] = i % 2 === 0 ? ['drain', 'ready'] : ['ready', 'maint'];
      const r = await apply([member('h1_a', a.port, ra), member('h1_b', b.port, rb)]);
      assert.equal(r.ok, true, r.error);
      await until('a few requests after the change', () => count.ok > (i + 1) * 10);
    }
  } finally {
    running = false;
    await Promise.all(loops);
    await dispatcher.close();
  }
  assert.deepEqual(count.failed, [], `${count.ok} served`);
  assert.equal(nginx.reloads(), 0);
});

test('nginx restarted reads the pool the agent set last (its file)', { skip }, async () => {
  await apply([member('h1_b', b.port, 'ready'), member('h1_a', a.port, 'maint')]);
  await nginx.stop();
  nginx = await startLuaNginx();
  assert.deepEqual(await spread(6), { b: 6 });
});

test('a reload keeps the pool the agent set (the shared dict lives on), whatever the file says', { skip }, async () => {
  writeFileSync(file, nginxUpstream('web', [member('h1_a', a.port, 'ready')], 'web'));
  process.kill(Number(readFileSync(nginx.pidFile, 'utf8').trim()), 'SIGHUP');
  await until('the reload', () => nginx.reloads() === 1);
  assert.deepEqual(await spread(6), { b: 6 });
});

test("nginx's API unreachable or refusing: ok:false with why, the file written all the same", { skip }, async () => {
  const closed = `127.0.0.1:${await freePort()}`;
  const r = await apply([member('h1_a', a.port, 'ready')], closed);
  assert.equal(r.ok, false);
  assert.match(r.error!, new RegExp(`nginx's control API at ${closed} does not answer .*noops lb nginx-conf`));
  assert.match(readFileSync(file, 'utf8'), new RegExp(`server 127\\.0\\.0\\.1:${a.port}; # h1_a ready`));
  // the API refuses a text that is not a pool's (the agent never sends one: checked here by hand)
  for (const [body, why] of [
    ['garbage', /no `upstream NAME \{` line/],
    ['upstream web {\n  server 10.0.0.1:80;\n}\n', /cannot read the line: +server 10\.0\.0\.1:80;/],
    ['upstream other {\n}\n', /the text is of the upstream other, not web/],
  ] as const) {
    const res = await control('/noops/pools/web', { method: 'PUT', body });
    assert.equal(res.status, 400);
    assert.match(await res.text(), why);
  }
  assert.deepEqual(await spread(4), { b: 4 }, 'a refused text changes nothing (nginx holds what the last PUT that worked set)');
});

test('a PUT older than the last one set changes nothing (409): an apply given up for a newer pool cannot undo it', { skip }, async () => {
  const put = (seq: number | string, members: DesiredMember[]) =>
    control(`/noops/pools/web?seq=${seq}`, { method: 'PUT', body: nginxUpstream('web', members, 'web') });
  assert.equal((await apply([member('h1_b', b.port, 'ready')])).ok, true);
  const held = (await (await control('/noops/pools/web')).json()) as { seq: number };
  assert.ok(held.seq > 0, "the agent's PUTs carry their seq");
  const newer = await put(held.seq + 2, [member('h1_a', a.port, 'ready')]);
  assert.equal(newer.status, 200, await newer.text());
  const older = await put(held.seq + 1, [member('h1_b', b.port, 'ready')]); // sent before the newer, landing after it
  assert.equal(older.status, 409);
  assert.equal(((await older.json()) as { seq: number }).seq, held.seq + 2);
  assert.deepEqual(await spread(4), { a: 4 }, 'the older PUT undid nothing');
  for (const bad of ['x', '-1', '1.5', '9007199254740993']) {
    const res = await put(bad, [member('h1_b', b.port, 'ready')]);
    assert.equal(res.status, 400, bad);
    await res.text();
  }
  // nginx holds a seq above the agent's (its clock went back across a restart): refused, sent again above it
  const ahead = await put(Date.now() * 1000 + 3_600_000_000, [member('h1_a', a.port, 'ready')]);
  assert.equal(ahead.status, 200, await ahead.text());
  const r = await apply([member('h1_b', b.port, 'ready')]);
  assert.equal(r.ok, true, r.error);
  assert.deepEqual(await spread(4), { b: 4 });
  // an apply cut (a newer pool waits) gives its PUT up: no report, nginx keeps what it held
  const cut = new AbortController();
  cut.abort();
  const { pools } = applier.plan({
    index: ++index,
    pools: [{ name: 'web', driver: 'nginx', file, api, members: [member('h1_a', a.port, 'ready')] }],
  });
  assert.equal(await applier.applyPool(pools[0]!, index, cut.signal), undefined);
  assert.deepEqual(await spread(4), { b: 4 });
  assert.equal(nginx.reloads(), 1, 'no reload but the test before');
});

test('the agent drives only its own nginx: an api on another address is refused', async () => {
  assert.equal(ownAddress('127.0.0.1'), true);
  assert.equal(ownAddress('::1'), true);
  assert.equal(ownAddress('10.1.2.3', { eth0: [{ address: '10.1.2.3' } as never] }), true);
  assert.equal(ownAddress('192.0.2.1', { eth0: [{ address: '10.1.2.3' } as never] }), false);
  const [r] = await new BalancerApplier().apply({
    index: 1,
    pools: [{ name: 'web', driver: 'nginx', file: join(dir, 'x.conf'), api: '192.0.2.1:80', members: [] }],
  });
  assert.equal(r!.ok, false);
  assert.match(r!.error!, /api "192\.0\.2\.1:80" is neither a loopback address nor one of this host's/);
});

test('two pools that set one upstream through one control API: only the first by name is driven', async () => {
  const closed = `127.0.0.1:${await freePort()}`;
  const reports = await new BalancerApplier().apply({
    index: 1,
    pools: [
      { name: 'one', driver: 'nginx', file: join(dir, 'one.conf'), backend: 'web', api: closed, members: [] },
      { name: 'two', driver: 'nginx', file: join(dir, 'two.conf'), backend: 'web', api: closed, members: [] },
    ],
  });
  assert.match(reports[0]!.error!, /control API .* does not answer/, 'the first is driven (its nginx is not there)');
  assert.match(reports[1]!.error!, new RegExp(`pool "two": pool "one" drives the same nginx ${closed} upstream web`));
});

test('a kept-alive connection the control API closes as it is reused: the PUT goes again on a new one', async () => {
  // answers each connection's first request, kept alive, and drops the connection at its second
  const answer = JSON.stringify({ seq: 1, members: [{ id: 'h1_a', state: 'ready', connections: 0 }] });
  const connections: number[] = [];
  const server = createServer((socket) => {
    const n = connections.push(0) - 1;
    let seen = '';
    socket.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      // a request ends with its body, which the applier sends with a content-length
      for (;;) {
        const head = seen.indexOf('\r\n\r\n');
        if (head < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(seen.slice(0, head))?.[1] ?? 0);
        if (seen.length < head + 4 + length) return;
        seen = seen.slice(head + 4 + length);
        if (++connections[n]! > 1) return void socket.destroy();
        socket.write(
          `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${answer.length}\r\nconnection: keep-alive\r\n\r\n${answer}`,
        );
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const at = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const own = new BalancerApplier();
  const put = async () => {
    const [r] = await own.apply({
      index: ++index,
      pools: [
        {
          name: 'web',
          driver: 'nginx',
          file: join(mkdtempSync(join(tmpdir(), 'noops-nginx-reuse-')), 'web.conf'),
          api: at,
          members: [member('h1_a', 8080, 'ready')],
        },
      ],
    });
    return r!;
  };
  try {
    const first = await put();
    assert.equal(first.ok, true, first.error);
    const second = await put(); // on the kept-alive connection, which the server drops
    assert.equal(second.ok, true, second.error);
    assert.ok(connections.length >= 2, `a new connection was opened (${connections.length})`);
    assert.ok(
      connections.some((c) => c > 1),
      'a request came on a kept-alive connection and was dropped',
    );
  } finally {
    server.close();
  }
});
