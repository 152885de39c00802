import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import type { FalconPoint } from '../../api/index.js';
import { parseListen } from '../../net/index.js';
import { isLoopback, PushServer, PUSH_MAX_BYTES, pushListenFlag } from './push-server.js';

const item = (over: Record<string, unknown> = {}) => ({
  endpoint: 'h1',
  metric: 'queue.len',
  timestamp: 1_700_000_000,
  step: 60,
  value: 3,
  counterType: 'GAUGE',
  tags: 'q=b,app=a',
  ...over,
});

async function withServer(fn: (url: string, got: FalconPoint[]) => Promise<void>, listen = '127.0.0.1:0'): Promise<void> {
  const got: FalconPoint[] = [];
  const s = await PushServer.listen(listen, { endpoint: 'h1', take: (p) => got.push(...p), now: () => 1_700_000_100_000 });
  try {
    await fn(`http://${s.address}`, got);
  } finally {
    await s.close();
  }
}

const post = (url: string, body: string) => fetch(`${url}/v1/push`, { method: 'POST', body });

test('a valid list is answered "success", as falcon-agent answers, and its points are taken with tags sorted', async () => {
  await withServer(async (url, got) => {
    const res = await post(url, JSON.stringify([item(), item({ metric: 'jobs', value: '7', counterType: 'COUNTER', tags: '' })]));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'success');
    assert.deepEqual(got, [
      { endpoint: 'h1', metric: 'queue.len', timestamp: 1_700_000_000, step: 60, value: 3, counterType: 'GAUGE', tags: 'app=a,q=b' },
      { endpoint: 'h1', metric: 'jobs', timestamp: 1_700_000_000, step: 60, value: 7, counterType: 'COUNTER', tags: '' },
    ]);
  });
});

test('what is not a list of points is a 400 with the reason; the valid items of a mixed list are taken', async () => {
  await withServer(async (url, got) => {
    for (const [body, why] of [
      ['', /body is blank/],
      ['{oops', /not JSON/],
      ['{"metric":"x"}', /not a JSON list/],
    ] as const) {
      const res = await post(url, body);
      assert.equal(res.status, 400, body);
      assert.match(await res.text(), why);
    }
    const res = await post(url, JSON.stringify([item(), item({ counterType: 'RATE' }), item({ endpoint: 'other' })]));
    assert.equal(res.status, 400);
    const text = await res.text();
    assert.match(text, /^1 of 3 items taken/);
    assert.match(text, /item 1: counterType must be GAUGE, COUNTER or DERIVE/);
    assert.match(text, /endpoint "other" is not this host \("h1"\)/);
    assert.deepEqual(
      got.map((p) => p.metric),
      ['queue.len'],
    );
    assert.equal((await fetch(`${url}/v1/push`)).status, 405);
    assert.equal((await fetch(`${url}/v2/push`, { method: 'POST', body: '[]' })).status, 404);
  });
});

test('a body past PUSH_MAX_BYTES is refused (413) and nothing of it taken', async () => {
  await withServer(async (url, got) => {
    const res = await post(url, `[${' '.repeat(PUSH_MAX_BYTES)}]`);
    assert.equal(res.status, 413);
    assert.match(await res.text(), /split the push/);
    assert.equal(got.length, 0);
  });
});

test('a loopback-only push API refuses a peer from another address (403); 0.0.0.0 answers it', async (t) => {
  const outside = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (outside === undefined) return t.skip('this machine has no address but loopback');
  const got: FalconPoint[] = [];
  const body = JSON.stringify([item()]);
  // Bound to every address but loopback-only, as 127.0.0.1:1988 would be if a peer could reach it.
  const only = await PushServer.listen('0.0.0.0:0', { endpoint: 'h1', take: (p) => got.push(...p), loopbackOnly: true });
  const port = only.address.split(':').pop();
  try {
    const res = await fetch(`http://${outside}:${port}/v1/push`, { method: 'POST', body });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /from this machine only/);
    assert.equal(got.length, 0);
    assert.equal((await fetch(`http://127.0.0.1:${port}/v1/push`, { method: 'POST', body })).status, 200);
    assert.equal(got.length, 1);
  } finally {
    await only.close();
  }
  // A person who listens on the network asked for it (falcon-agent's :1988)
  const open = await PushServer.listen('0.0.0.0:0', { endpoint: 'h1', take: (p) => got.push(...p) });
  try {
    const res = await fetch(`http://${outside}:${open.address.split(':').pop()}/v1/push`, { method: 'POST', body });
    assert.equal(res.status, 200);
  } finally {
    await open.close();
  }
});

test('an address in use is an error the agent logs; a bad one is NOOPS_E_INPUT', async () => {
  await withServer(async (url) => {
    const addr = url.replace('http://', '');
    await assert.rejects(PushServer.listen(addr, { endpoint: 'h1', take: () => {} }), { code: 'EADDRINUSE' });
  });
  await assert.rejects(PushServer.listen('nonsense', { endpoint: 'h1', take: () => {} }), { code: 'NOOPS_E_INPUT' });
  assert.deepEqual(parseListen('127.0.0.1:1988', '0.0.0.0'), { host: '127.0.0.1', port: 1988 });
  assert.deepEqual(parseListen('[::1]:0', '0.0.0.0'), { host: '::1', port: 0 });
  assert.deepEqual(parseListen(':1988', '0.0.0.0'), { host: '0.0.0.0', port: 1988 });
  assert.equal(parseListen('127.0.0.1:99999', '0.0.0.0'), undefined);
  assert.equal(pushListenFlag('off'), undefined);
  assert.equal(pushListenFlag('127.0.0.1:0'), '127.0.0.1:0');
  assert.throws(() => pushListenFlag('1988'), { code: 'NOOPS_E_INPUT' });
  for (const a of ['127.0.0.1', '127.3.2.1', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a);
  for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '0.0.0.0', undefined]) assert.ok(!isLoopback(a), String(a));
});
