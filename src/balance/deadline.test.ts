import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DRAIN_TIMEOUT_MS } from '../api/index.js';
import type { ClusterRow, DesiredRow } from '../store/index.js';
import { drainTimeoutOf } from './deadline.js';

const WEB = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
const ADMIN = 'cop.acme_owt.web_pdl.shop_service.admin_job.web_cluster.prod';

function source(entries: { tag: string; drainTimeout?: number }[], policies: Record<string, unknown>) {
  return {
    getDesired: async () => ({
      entries: entries.map(
        (e) =>
          ({
            host: 'h1',
            tag: e.tag,
            version: 'v',
            manifest: e.drainTimeout === undefined ? {} : { drainTimeout: e.drainTimeout },
          }) as unknown as DesiredRow,
      ),
    }),
    getCluster: async (tag: string) =>
      tag in policies
        ? ({ tag, hosts: ['h1'], policy: { drain_timeout: policies[tag] }, conf: null, updatedAt: '' } as ClusterRow)
        : undefined,
  };
}

test("a restart's drain deadline: noops.yaml's, else the cluster's policy, else 30 s; the longest of the instances under the tag", async () => {
  assert.equal(await drainTimeoutOf(source([{ tag: WEB, drainTimeout: 20 }], { [WEB]: '5s' }), 'h1', WEB), 20_000);
  assert.equal(await drainTimeoutOf(source([{ tag: WEB }], { [WEB]: '5s' }), 'h1', WEB), 5_000);
  assert.equal(await drainTimeoutOf(source([{ tag: WEB }], {}), 'h1', WEB), DEFAULT_DRAIN_TIMEOUT_MS);
  assert.equal(await drainTimeoutOf(source([], {}), 'h1', WEB), DEFAULT_DRAIN_TIMEOUT_MS, 'nothing runs there');
  const both = source(
    [
      { tag: WEB, drainTimeout: 2 },
      { tag: ADMIN, drainTimeout: 50 },
    ],
    {},
  );
  assert.equal(await drainTimeoutOf(both, 'h1', 'cop.acme_owt.web_pdl.shop'), 50_000);
  assert.equal(await drainTimeoutOf(both, 'h1', WEB), 2_000, 'only the entries under the tag');
});
