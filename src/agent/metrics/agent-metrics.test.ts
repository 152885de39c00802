import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredInstance, MetricSample } from '../../api/index.js';
import { Host } from '../host.js';
import { AgentMetrics, collectionPhase, nextCollectionDelay, parseMetricsEvery, POINTS_PER_REPORT } from './agent-metrics.js';
import { PushServer } from './push-server.js';

const TAG = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';

test('--metrics-every: 60s, 1m, 1000ms, 2 (seconds); a step is whole seconds from 1 s to an hour', () => {
  assert.equal(parseMetricsEvery('60s'), 60_000);
  assert.equal(parseMetricsEvery('1m'), 60_000);
  assert.equal(parseMetricsEvery('1s'), 1000);
  assert.equal(parseMetricsEvery('1000ms'), 1000);
  assert.equal(parseMetricsEvery('2'), 2000);
  assert.equal(parseMetricsEvery('1h'), 3_600_000);
  for (const bad of ['500ms', '1.5s', '0', '2h', 'often', '-1s'])
    assert.throws(() => parseMetricsEvery(bad), { code: 'NOOPS_E_INPUT', message: /whole number of seconds/ }, bad);
});

test("collections fall at the host's phase of the interval, each in its own step-aligned slot", () => {
  const every = 60_000;
  const phase = collectionPhase('web-1', every);
  assert.ok(phase >= 6000 && phase <= 54_000, String(phase));
  assert.equal(collectionPhase('web-1', every), phase, 'the same host, the same phase');
  assert.notEqual(collectionPhase('web-2', every), phase, 'another host, another phase (about always)');
  let now = 1_700_000_000_123;
  const slots: number[] = [];
  for (let i = 0; i < 5; i++) {
    now += nextCollectionDelay(now, every, phase) + 3; // a timer a little late
    assert.equal(now % every, (phase + 3) % every);
    slots.push(Math.floor(now / every));
  }
  for (let i = 1; i < slots.length; i++) assert.equal(slots[i]! - slots[i - 1]!, 1, 'one collection per slot');
  assert.ok(nextCollectionDelay(0, every, 100) >= every / 2, 'never within half an interval of the last');
});

test('the collection after the first (made at start, off the phase) falls in a later slot, not the same second', () => {
  const every = 1000;
  const phase = 900; // this host collects at .9 of each second
  const startedAt = 5_050; // the first collection, at start: slot 5
  const delay = nextCollectionDelay(5_100, every, phase, startedAt);
  assert.equal(Math.floor((5_100 + delay) / every), 6, 'slot 6, not 5.9 s in slot 5');
  assert.equal(5_100 + delay, 6_900);
  assert.equal(nextCollectionDelay(5_100, every, phase), 800, 'without the last collection: 5.9 s, as before');
});

test("a collection queues the host's points, each instance's common.service* (tag pairs + process) and agent.alive", async () => {
  const root = mkdtempSync(join(tmpdir(), 'noops-agent-metrics-'));
  const host = new Host({ root, log: () => {} });
  try {
    const desired = {
      tag: TAG,
      version: 'abc1234',
      sha256: '0'.repeat(64),
      url: '/x',
      manifest: { processes: [{ name: 'web' }, { name: 'worker' }] },
      deploymentId: 1,
      kind: 'deploy',
    } as unknown as DesiredInstance;
    host.state.instances[TAG] = { desired, ports: {}, processes: {} };
    const lines: string[] = [];
    const m = new AgentMetrics({
      endpoint: 'h1',
      everyMs: 5000,
      instances: (e, step, now) => host.instanceMetrics(e, step, now),
      log: (l) => lines.push(l),
    });
    await m.collect(1_700_000_000_000);
    const batch = m.take()!;
    const points = batch.points;
    const find = (metric: string, tags = ''): MetricSample | undefined => points.find((p) => p.metric === metric && p.tags === tags);
    assert.ok(points.every((p) => p.endpoint === 'h1' && p.step === 5 && p.timestamp === 1_700_000_000));
    assert.equal(find('agent.alive')?.value, 1);
    assert.equal(find('agent.points.dropped')?.counterType, 'COUNTER');
    assert.ok(find('mem.memtotal'), 'the host');
    const pairs = 'cop=acme,owt=web,pdl=shop,service=api,job=web,cluster=prod';
    for (const proc of ['web', 'worker'])
      for (const metric of [
        'common.servicerunning',
        'common.servicerestarts',
        'common.serviceuptime',
        'common.servicerss',
        'common.servicecpu',
      ]) {
        const p = find(metric, `${pairs},process=${proc}`);
        assert.ok(p, `${metric} of ${proc}`);
        assert.equal(p.counterType, 'GAUGE');
      }
    assert.equal(find('common.servicerunning', `${pairs},process=web`)?.value, 0, 'not running: 0');
    assert.deepEqual(lines, []);
  } finally {
    host.detach();
    rmSync(root, { recursive: true, force: true });
  }
});

test("the server's answer settles a batch: accepted leaves, unreachable stays, too large halves the next, refused drops", async () => {
  const m = new AgentMetrics({ endpoint: 'h1', everyMs: 1000, instances: () => [], hostMetrics: false, log: () => {} });
  await m.collect(1_000_000);
  await m.collect(2_000_000);
  assert.equal(m.queue.size, 4, 'agent.alive and agent.points.dropped, twice');
  let b = m.take()!;
  m.settle(b, { code: 'NOOPS_E_SERVER_UNREACHABLE', message: 'down' });
  assert.equal(m.queue.size, 4);
  b = m.take()!;
  m.settle(b, { code: 'NOOPS_E_REPORT_TOO_LARGE', message: 'big' });
  assert.equal(m.queue.size, 4);
  b = m.take()!;
  m.settle(b);
  assert.equal(m.queue.size, 0);
  await m.collect(3_000_000);
  m.settle(m.take()!, { code: 'NOOPS_E_INPUT', message: 'bad' });
  assert.equal(m.queue.size, 0);
  assert.equal(m.queue.dropped, 2);
});

test('a push API whose address is taken is logged once and the agent runs on; pushed points join the queue', async () => {
  const taken = await PushServer.listen('127.0.0.1:0', { endpoint: 'x', take: () => {} });
  const lines: string[] = [];
  let told = 0;
  const m = new AgentMetrics({
    endpoint: 'h1',
    everyMs: 3_600_000,
    instances: () => [],
    hostMetrics: false,
    pushListen: taken.address,
    log: (l) => lines.push(l),
    onPoints: () => told++,
  });
  try {
    await m.start();
    assert.equal(m.pushAddress, undefined);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /cannot listen on 127\.0\.0\.1:\d+ .*EADDRINUSE.*running without it/);
    assert.equal(m.queue.size, 2, 'the first collection at once');
  } finally {
    await m.stop();
    await taken.close();
  }
  const free = new AgentMetrics({
    endpoint: 'h1',
    everyMs: 3_600_000,
    instances: () => [],
    hostMetrics: false,
    pushListen: '127.0.0.1:0',
    log: () => {},
    onPoints: () => told++,
  });
  try {
    await free.start();
    const body = JSON.stringify([{ endpoint: 'h1', metric: 'm', timestamp: 1, step: 60, value: 1, counterType: 'DERIVE', tags: '' }]);
    const res = await fetch(`http://${free.pushAddress}/v1/push`, { method: 'POST', body });
    assert.equal(await res.text(), 'success');
    assert.equal(free.queue.size, 3);
    assert.equal(told, 2, 'each collection tells the agent; a small push waits for the next heartbeat');
    const many = Array.from({ length: POINTS_PER_REPORT }, (_, i) => ({
      endpoint: 'h1',
      metric: 'm',
      timestamp: 2 + i,
      step: 60,
      value: i,
      counterType: 'GAUGE',
      tags: '',
    }));
    const full = await fetch(`http://${free.pushAddress}/v1/push`, { method: 'POST', body: JSON.stringify(many) });
    assert.equal(await full.text(), 'success');
    assert.equal(told, 3, "a push that fills a report's worth tells the agent at once");
  } finally {
    await free.stop();
  }
});
