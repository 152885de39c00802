import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceView } from '../../src/api/index.js';
import { figuresOf, worst, type ChangeRecord } from './figures.js';
import type { CannonResult, Served } from './observe.js';

const T0 = 1_000_000;

function instance(host: string, port: number, pid: number, version: string, healthyAt: number | null): InstanceView {
  return {
    host,
    tag: 'cop.a_owt.b_pdl.c_service.d_job.e_cluster.f',
    process: 'web',
    version,
    state: 'up',
    pid,
    port,
    restarts: 0,
    startedAt: null,
    error: null,
    healthySince: healthyAt === null ? null : new Date(healthyAt).toISOString(),
  } as InstanceView;
}

function served(i: InstanceView, first: number, last: number): [string, Served] {
  const key = `${i.host}:${i.port}#${i.pid}`;
  return [key, { key, host: i.host, port: i.port!, pid: i.pid!, version: i.version, first, last, count: 10 }];
}

const cannon: CannonResult = {
  requests: { total: 5000, average: 999.84 },
  latency: { p50: 1, p99: 4, max: 12 },
  errors: 0,
  timeouts: 0,
  non2xx: 2,
  resets: 0,
  duration: 5,
  statusCodeStats: { 200: { count: 4998 }, 503: { count: 2 } },
};

test('a deploy on one host: joined from its report to its first request; left from the mark and the drain to its last', () => {
  const old = instance('h1', 5001, 11, 'v1', T0 - 60_000);
  const other = instance('h2', 5002, 12, 'v1', T0 - 60_000);
  const fresh = instance('h1', 5003, 21, 'v2', T0 + 900);
  const record: ChangeRecord = {
    t0: T0,
    before: [old, other],
    after: [fresh, other],
    served: new Map([served(old, T0 - 2000, T0 + 130), served(other, T0 - 2000, T0 + 3000), served(fresh, T0 + 1010, T0 + 3000)]),
    cannon,
    balancer: [
      { at: T0 - 2000, port: 5001, state: 'ready' },
      { at: T0 + 125, port: 5001, state: 'drain' },
      { at: T0 + 700, port: 5001, state: 'absent' },
      { at: T0 + 1005, port: 5003, state: 'ready' },
    ],
    pool: [
      { at: T0 - 2000, port: 5001, state: 'ready' },
      { at: T0 + 100, port: 5001, state: 'drain' },
    ],
    appeared: [{ at: T0 + 960, endpoint: 'h1:5003:v2' }],
    poolName: 'ha',
    trace: [
      {
        kind: 'report',
        host: 'h1',
        sentAt: T0 + 800,
        answeredAt: T0 + 810,
        processes: [
          { port: 5003, pid: 11, state: 'up', health: 'healthy', healthySince: new Date(T0 - 60_000).toISOString() },
          { port: 5004, pid: 21, state: 'up', health: 'starting', healthySince: null },
        ],
      },
      {
        kind: 'report',
        host: 'h1',
        sentAt: T0 + 940,
        answeredAt: T0 + 950,
        processes: [{ port: 5003, pid: 21, state: 'up', health: 'healthy', healthySince: new Date(T0 + 900).toISOString() }],
      },
      // the server's moves of lb's index: before the report, then one with 5003 ready only in another pool, then in ha
      { kind: 'index', host: 'lb', index: 2, at: T0 + 930, members: [['ha', [[5003, 'ready']]]] },
      {
        kind: 'index',
        host: 'lb',
        index: 3,
        at: T0 + 942,
        members: [
          ['ha', [[5003, 'maint']]],
          ['ng', [[5003, 'ready']]],
        ],
      },
      {
        kind: 'index',
        host: 'lb',
        index: 4,
        at: T0 + 945,
        members: [
          ['ha', [[5003, 'ready']]],
          ['ng', [[5003, 'ready']]],
        ],
      },
      // the server answered polls: another host's (from 9), the one the move to 4 woke (asked with 3)
      { kind: 'answered', from: 9, at: T0 + 946 },
      { kind: 'answered', from: 3, at: T0 + 955 },
      {
        kind: 'apply',
        pool: 'ha',
        driver: 'haproxy',
        index: 3,
        offeredAt: T0 + 700,
        startedAt: T0 + 701,
        endedAt: T0 + 709,
        periodic: false,
        ok: true,
      },
      {
        kind: 'apply',
        pool: 'ng',
        driver: 'nginx',
        index: 4,
        offeredAt: T0 + 970,
        startedAt: T0 + 990,
        endedAt: T0 + 999,
        periodic: false,
        ok: true,
      },
      {
        kind: 'apply',
        pool: 'ha',
        driver: 'haproxy',
        index: 4,
        offeredAt: T0 + 970,
        startedAt: T0 + 985,
        endedAt: T0 + 995,
        periodic: false,
        ok: true,
      },
      {
        kind: 'apply',
        pool: 'ha',
        driver: 'haproxy',
        index: 4,
        offeredAt: T0 + 970,
        startedAt: T0 + 1000,
        endedAt: T0 + 1003,
        periodic: true,
        ok: true,
      },
    ],
  };
  const f = figuresOf('haproxy', record);
  assert.deepEqual(
    [f.requests, f.rate, f.non2xx, f.statusCodes, f.latencyMs],
    [5000, 999.8, 2, { 200: 4998, 503: 2 }, { p50: 1, p99: 4, max: 12 }],
  );
  assert.deepEqual(f.reportToServedMs, [{ process: 'h1:5003#21', ms: 50 }]);
  assert.deepEqual(f.markToLastMs, [{ process: 'h1:5001#11', ms: 30 }]);
  assert.deepEqual(f.drainToLastMs, [{ process: 'h1:5001#11', ms: 5 }]);
  assert.equal(worst(f.reportToServedMs), 50);
  assert.deepEqual(f.reportToBalancerMs, [{ process: 'h1:5003#21', ms: 45 }]);
  assert.deepEqual(f.joinPath, [
    {
      process: 'h1:5003#21',
      healthyToSent: 40,
      sentToAnswered: 10,
      sentToNaming: 20,
      sentToIndex: 5,
      indexToOffer: 25,
      indexToAnswered: 10,
      sentToOffer: 30,
      offerToApply: 15,
      applyToReady: 20,
      applyMs: 10,
    },
  ]);
});

test('what was not observed is null, and worst() of nothing is null', () => {
  const old = instance('h1', 5001, 11, 'v1', T0 - 60_000);
  const fresh = instance('h1', 5001, 21, 'v1', null);
  const f = figuresOf('nginx', {
    t0: T0,
    before: [old],
    after: [fresh],
    served: new Map(),
    cannon,
    balancer: [],
    pool: [],
    appeared: [],
    trace: [],
    poolName: 'ng',
  });
  assert.deepEqual(
    [f.reportToServedMs, f.markToLastMs, f.drainToLastMs],
    [[{ process: 'h1:5001#21', ms: null }], [{ process: 'h1:5001#11', ms: null }], [{ process: 'h1:5001#11', ms: null }]],
  );
  assert.equal(worst(f.reportToServedMs), null);
  assert.deepEqual(f.joinPath, [
    {
      process: 'h1:5001#21',
      healthyToSent: null,
      sentToAnswered: null,
      sentToNaming: null,
      sentToIndex: null,
      indexToOffer: null,
      indexToAnswered: null,
      sentToOffer: null,
      offerToApply: null,
      applyToReady: null,
      applyMs: null,
    },
  ]);
});
