/** The tree tag of an instance series; a report's metrics, checked once (the schema) and normalized as a push. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metric } from '../report-schema.js';
import { instanceTagOf, reportPoints } from './scope.js';

test("instanceTagOf: the tree's pairs of an instance series in the tree's order; none for a host's", () => {
  assert.equal(
    instanceTagOf('cluster=prod,cop=acme,job=web,owt=shop,pdl=x,process=web,service=y'),
    'cop.acme_owt.shop_pdl.x_service.y_job.web_cluster.prod',
  );
  assert.equal(instanceTagOf('fstype=ext4,mount=/'), undefined);
  assert.equal(instanceTagOf(''), undefined);
  assert.equal(instanceTagOf('cop=Acme,owt=web'), undefined, 'not a path of the tree: no node, no failed read');
  assert.equal(instanceTagOf('xcop=1'), undefined);
});

test('reportPoints: tags sorted as a push; a timestamp not above 0 or past twice now is now', () => {
  const m = { endpoint: 'h1', metric: 'm', step: 5, value: 1, counterType: 'GAUGE' as const };
  const r = reportPoints(
    [
      { ...m, timestamp: 100, tags: 'b=1, a=2' },
      { ...m, timestamp: 0, tags: '' },
      { ...m, timestamp: 2001, tags: '' },
    ],
    1000,
  );
  assert.deepEqual(r, {
    points: [
      { ...m, timestamp: 100, tags: 'a=2,b=1' },
      { ...m, timestamp: 1000, tags: '' },
      { ...m, timestamp: 1000, tags: '' },
    ],
  });
  assert.deepEqual(reportPoints(undefined, 1), { points: [] });
});

test("a report's point is checked once, by the report's schema: exact types and every rule of Falcon's push", () => {
  const good = { endpoint: 'h1', metric: 'm', timestamp: 100, step: 1, value: 1, counterType: 'GAUGE', tags: '' };
  assert.equal(Metric.safeParse(good).success, true);
  const refused: [string, Record<string, unknown>][] = [
    ['a step of 0 (sub-second reports)', { step: 0 }],
    ['a negative step', { step: -60 }],
    ['no endpoint', { endpoint: '' }],
    ['no metric', { metric: '' }],
    ['kernel.hostname', { metric: 'kernel.hostname' }],
    ['metric and tags past 510', { metric: 'm', tags: `a=${'x'.repeat(508)}` }],
    ['a numeric string', { value: '1' }],
    ['another counter type', { counterType: 'RATE' }],
    ['an unknown field', { extra: 1 }],
  ];
  for (const [why, over] of refused) assert.equal(Metric.safeParse({ ...good, ...over }).success, false, why);
  assert.equal(Metric.safeParse({ ...good, tags: `a=${'x'.repeat(507)}` }).success, true, '510 exactly');
});
