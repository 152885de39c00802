/**
 * `noops lb set|ls|show|rm` on a real noops server: the flags of issue 16 reach the pool, `ls`
 * and `show` print tables (and JSON), the server's refusals come back with their codes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BalancerMember, BalancerShow, BalancerView } from '../../api/index.js';
import { startServer } from '../../server/index.js';
import { program } from '../main.js';

const SEL = 'cop=acme,owt=web,service=shop';
let dir: string;
let noops: Awaited<ReturnType<typeof startServer>>;
let token: string;

/** Runs the CLI and answers what it printed. */
async function cli(...args: string[]): Promise<string> {
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  // Only text: the test runner's own reports to its parent pass through as bytes.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    out.push(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await program().parseAsync(['--server', noops.url, '--token', token, ...args], { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return out.join('');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'noops-lb-cli-'));
  noops = await startServer({ dataDir: join(dir, 'server'), listen: '127.0.0.1:0' });
  token = readFileSync(noops.adminTokenFile, 'utf8').trim();
  const join_ = await fetch(`${noops.url}/api/v1/agent/join`, {
    method: 'POST',
    headers: { authorization: `Bearer ${readFileSync(noops.joinTokenFile, 'utf8').trim()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'lb1', labels: {} }),
  });
  assert.equal(join_.status < 300, true, await join_.text());
});
after(async () => {
  await noops.close();
  rmSync(dir, { recursive: true, force: true });
});

test("lb set with each driver's flags, ls (table and --json), rm", async () => {
  assert.equal(
    await cli(
      'lb',
      'set',
      'shop',
      '-t',
      SEL,
      '--host',
      'lb1',
      '--driver',
      'haproxy',
      '--socket',
      '/run/haproxy/admin.sock',
      '--backend',
      'shop',
    ),
    'pool shop set: haproxy on lb1, backend shop via /run/haproxy/admin.sock, members under cop=acme,owt=web,service=shop\n',
  );
  await cli(
    'lb',
    'set',
    'edge',
    '-t',
    SEL,
    '--host',
    'lb1',
    '--driver',
    'nginx',
    '--file',
    '/etc/nginx/conf.d/shop.conf',
    '--process',
    'web',
    '--pid-file',
    '/run/nginx.pid',
  );
  const lvs = await cli(
    'lb',
    'set',
    'lvs',
    '-t',
    SEL,
    '--host',
    'lb1',
    '--driver',
    'keepalived',
    '--file',
    '/etc/keepalived/noops.conf',
    '--vip',
    '10.0.0.10:80',
  );
  assert.match(lvs, /^pool lvs set: keepalived on lb1, 10.0.0.10:80 in \/etc\/keepalived\/noops.conf/);
  const replaced = await cli(
    'lb',
    'set',
    'lvs',
    '-t',
    SEL,
    '--host',
    'lb1',
    '--driver',
    'keepalived',
    '--file',
    '/etc/keepalived/noops.conf',
    '--vip',
    '10.0.0.11:80',
  );
  assert.match(replaced, /^pool lvs replaced: /);

  const rows = JSON.parse(await cli('lb', 'ls', '--json')) as BalancerView[];
  assert.deepEqual(
    rows.map(({ createdAt: _c, updatedAt: _u, ...r }) => r),
    [
      {
        name: 'edge',
        selector: SEL,
        host: 'lb1',
        driver: 'nginx',
        file: '/etc/nginx/conf.d/shop.conf',
        process: 'web',
        pidFile: '/run/nginx.pid',
        createdBy: 'admin',
      },
      {
        name: 'lvs',
        selector: SEL,
        host: 'lb1',
        driver: 'keepalived',
        file: '/etc/keepalived/noops.conf',
        vip: '10.0.0.11:80',
        createdBy: 'admin',
      },
      {
        name: 'shop',
        selector: SEL,
        host: 'lb1',
        driver: 'haproxy',
        socket: '/run/haproxy/admin.sock',
        backend: 'shop',
        createdBy: 'admin',
      },
    ],
  );
  const listed = (await cli('lb', 'ls')).split('\n');
  assert.match(listed[0]!, /^NAME\s+SELECTOR\s+HOST\s+DRIVER\s+TARGET\s+PROCESS$/);
  assert.match(listed[1]!, /^edge\s+cop=acme,owt=web,service=shop\s+lb1\s+nginx\s+\/etc\/nginx\/conf.d\/shop.conf\s+web$/);
  assert.match(listed[3]!, /^shop\s+.*\s+haproxy\s+backend shop via \/run\/haproxy\/admin.sock$/);

  assert.equal(await cli('lb', 'rm', 'edge'), "pool edge removed: noops no longer drives it; lb1's balancer keeps the members it holds\n");
  await cli('lb', 'rm', 'lvs');
  assert.deepEqual(
    (JSON.parse(await cli('lb', 'ls', '--json')) as BalancerView[]).map((b) => b.name),
    ['shop'],
  );
});

test("lb set and rm: the server's refusals come back with their codes", async () => {
  await assert.rejects(cli('lb', 'set', 'x', '-t', SEL, '--host', 'lb1', '--driver', 'haproxy', '--socket', '/run/h.sock'), {
    code: 'NOOPS_E_BALANCER_INVALID',
    message: /--backend/,
  });
  await assert.rejects(cli('lb', 'set', 'x', '-t', SEL, '--host', 'lb1', '--driver', 'nginx', '--file', 'shop.conf'), {
    code: 'NOOPS_E_BALANCER_INVALID',
    message: /--file: give an absolute path/,
  });
  await assert.rejects(
    cli('lb', 'set', 'x', '-t', SEL, '--host', 'lb1', '--driver', 'keepalived', '--file', '/etc/k.conf', '--vip', 'nope'),
    {
      code: 'NOOPS_E_BALANCER_INVALID',
    },
  );
  await assert.rejects(cli('lb', 'set', 'x', '-t', SEL, '--host', 'lb9', '--driver', 'nginx', '--file', '/etc/n.conf'), {
    code: 'NOOPS_E_HOST_UNKNOWN',
  });
  await assert.rejects(cli('lb', 'rm', 'nope'), { code: 'NOOPS_E_BALANCER_UNKNOWN' });
  await assert.rejects(cli('lb', 'show', 'nope'), { code: 'NOOPS_E_BALANCER_UNKNOWN' });
});

test('lb show: the pool, what its agent applied, and a table of members (--json: the whole BalancerShow)', async () => {
  await cli(
    'lb',
    'set',
    'shop',
    '-t',
    SEL,
    '--host',
    'lb1',
    '--driver',
    'haproxy',
    '--socket',
    '/run/haproxy/admin.sock',
    '--backend',
    'shop',
  );
  const bare = (await cli('lb', 'show', 'shop')).split('\n');
  assert.deepEqual(bare.slice(0, 4), [
    'pool shop: haproxy on lb1, backend shop via /run/haproxy/admin.sock',
    'members: every process with a port of the instances under cop=acme,owt=web,service=shop',
    "applied: no report from lb1's agent yet",
    '(none)',
  ]);

  const member: BalancerMember = {
    host: 'h1',
    address: '10.0.0.1',
    port: 8080,
    tag: 'cop.acme_owt.web_pdl.p_service.shop_job.web_cluster.prod',
    version: 'abc1234',
    state: 'drain',
    process: 'web',
    id: 'h1_web_web',
  };
  const ctx = noops.ctx as unknown as { balancers?: { members(name: string): BalancerMember[] } };
  ctx.balancers = { members: () => [member, { ...member, host: 'h2', address: '10.0.0.2', state: 'ready', id: 'h2_web_web' }] };
  try {
    const report = {
      name: 'shop',
      index: 9,
      ok: true,
      at: '2026-01-01T00:00:00.000Z',
      members: [{ id: 'h1_web_web', state: 'drain', connections: 4 }],
    };
    await noops.ctx.store.putBalancerReport('shop', 'lb1', JSON.stringify(report), report.at);
    const shown = (await cli('lb', 'show', 'shop')).split('\n');
    assert.equal(shown[2], 'applied: ok at 2026-01-01T00:00:00.000Z (index 9), 1 held by the balancer');
    assert.match(shown[3]!, /^HOST\s+ADDRESS\s+PORT\s+TAG\s+VERSION\s+STATE\s+PROCESS\s+APPLIED\s+CONNECTIONS\s+ID$/);
    assert.match(shown[4]!, /^h1\s+10\.0\.0\.1\s+8080\s+cop\.acme\S+\s+abc1234\s+drain\s+web\s+drain\s+4\s+h1_web_web$/);
    assert.match(shown[5]!, /^h2\s+10\.0\.0\.2\s+8080\s+\S+\s+abc1234\s+ready\s+web\s+absent\s+-\s+h2_web_web$/);

    const asJson = JSON.parse(await cli('lb', 'show', 'shop', '--json')) as BalancerShow;
    assert.deepEqual(asJson.report, report);
    assert.deepEqual(
      asJson.members.map((m) => [m.host, m.address, m.port, m.tag, m.version, m.state, m.applied]),
      [
        ['h1', '10.0.0.1', 8080, member.tag, 'abc1234', 'drain', { state: 'drain', connections: 4 }],
        ['h2', '10.0.0.2', 8080, member.tag, 'abc1234', 'ready', { state: 'absent', connections: null }],
      ],
    );

    const failed = { ...report, ok: false, error: 'connect ENOENT /run/haproxy/admin.sock', at: '2026-01-01T00:01:00.000Z', members: [] };
    await noops.ctx.store.putBalancerReport('shop', 'lb1', JSON.stringify(failed), failed.at);
    assert.equal(
      (await cli('lb', 'show', 'shop')).split('\n')[2],
      'applied: FAILED at 2026-01-01T00:01:00.000Z (index 9): connect ENOENT /run/haproxy/admin.sock',
    );
  } finally {
    delete ctx.balancers;
  }
});

test('lb set --api: an nginx pool set through its control API; show and --json say so; nginx-conf prints its Lua blocks', async () => {
  const made = await cli(
    'lb',
    'set',
    'edge-lua',
    '-t',
    SEL,
    '--host',
    'lb1',
    '--driver',
    'nginx',
    '--file',
    '/etc/nginx/noops/edge.conf',
    '--backend',
    'edge',
    '--api',
    '127.0.0.1:8091',
  );
  assert.match(made, /^pool edge-lua set: nginx on lb1, \/etc\/nginx\/noops\/edge.conf \(upstream edge\) via 127.0.0.1:8091/);
  const asJson = JSON.parse(await cli('lb', 'show', 'edge-lua', '--json')) as BalancerShow;
  assert.equal(asJson.api, '127.0.0.1:8091');
  assert.equal(asJson.socket, undefined);
  assert.match(await cli('lb', 'show', 'edge-lua'), /set through nginx's control API at 127\.0\.0\.1:8091, without a reload/);
  const conf = await cli('lb', 'nginx-conf', 'edge-lua');
  assert.match(conf, /^lua_shared_dict noops_pools 1m;/m);
  assert.match(conf, /require\("noops_balancer"\)\.load\("edge", "\/etc\/nginx\/noops\/edge.conf"\)/);
  assert.match(
    conf,
    /upstream edge \{\n {2}server 0\.0\.0\.1;.*\n {2}balancer_by_lua_block \{ require\("noops_balancer"\)\.balance\("edge"\) \}/,
  );
  assert.match(conf, /listen 127\.0\.0\.1:8091;/);
  assert.match(conf, /content_by_lua_block \{ require\("noops_balancer"\)\.control\(\) \}/);
  // a pool without --api needs no Lua blocks
  await cli('lb', 'set', 'plain', '-t', SEL, '--host', 'lb1', '--driver', 'nginx', '--file', '/etc/nginx/noops/plain.conf');
  await assert.rejects(cli('lb', 'nginx-conf', 'plain'), { code: 'NOOPS_E_BALANCER_INVALID', message: /not an nginx pool with --api/ });
  await assert.rejects(
    cli('lb', 'set', 'x', '-t', SEL, '--host', 'lb1', '--driver', 'nginx', '--file', '/etc/n.conf', '--api', '192.0.2.1:80'),
    {
      code: 'NOOPS_E_BALANCER_INVALID',
      message: /--api: 192\.0\.2\.1:80 is neither a loopback address nor lb1's/,
    },
  );
  await cli('lb', 'rm', 'edge-lua');
  await cli('lb', 'rm', 'plain');
});
