/** The tree tag of an instance series; a report's metrics checked as a push. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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

test('reportPoints: checked and sorted as a push; a sub-second step is 1; bad items counted', () => {
  const r = reportPoints(
    [
      { endpoint: 'h1', metric: 'm', timestamp: 100, step: 0, value: 1, counterType: 'GAUGE', tags: 'b=1,a=2' },
      { endpoint: 'h1', metric: '', timestamp: 100, step: 5, value: 1, counterType: 'GAUGE', tags: '' },
    ],
    1000,
  );
  assert.deepEqual(r, {
    points: [{ endpoint: 'h1', metric: 'm', timestamp: 100, step: 1, value: 1, counterType: 'GAUGE', tags: 'a=2,b=1' }],
    invalid: 1,
  });
  assert.deepEqual(reportPoints(undefined, 1), { points: [], invalid: 0 });
});
