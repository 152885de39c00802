import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DepEdge } from '../../api/index.js';
import { dependentsLine, howKnown } from './deps.js';

const CLUSTER = 'cop.acme_owt.web_pdl.shop_service.pay_job.api_cluster.dev';
const edge = (from: string, declared: boolean, observed: boolean): DepEdge => ({
  from,
  to: 'service=pay',
  declared,
  observed,
  lastSeen: null,
});

test("a deploy's line names the services that depend on the cluster, marked declared or observed, once each", () => {
  const line = dependentsLine(
    {
      selector: 'x',
      uses: [],
      usedBy: [
        edge('cop.acme_job.cart', false, true),
        edge('cop.acme_job.shop', true, false),
        edge('cop.acme_job.shop', false, true),
        edge('cop.acme_owt.web_pdl.shop_service.pay_job.api', true, true),
      ],
    },
    CLUSTER,
  );
  assert.equal(line, 'used by: cop.acme_job.cart (observed), cop.acme_job.shop (declared,observed)');
  assert.equal(dependentsLine({ selector: 'x', uses: [], usedBy: [] }, CLUSTER), undefined, 'nothing known: no line');
  assert.equal(howKnown(edge('a', true, true)), 'declared,observed');
});
