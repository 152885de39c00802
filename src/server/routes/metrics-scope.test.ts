/** The hosts' tree tags for metric scoping: kept briefly, forgotten on a cluster change, read fresh on demand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHANNELS, LocalChangeBus } from '../../bus/index.js';
import type { ClusterRow, HostRow, InstanceRow } from '../../store/index.js';
import type { ServerContext } from '../context.js';
import { HOST_SCOPE_TTL_MS, HostScopes } from './metrics-scope.js';

const WEB = 'cop.acme_owt.web';
const CLUSTER = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';

function fleet() {
  const reads = { clusters: 0, hosts: 0 };
  const clusters: ClusterRow[] = [{ tag: CLUSTER, hosts: ['h1'], policy: {}, conf: null, updatedAt: '' }];
  const hosts = [
    { name: 'h1', scope: null },
    { name: 'h2', scope: WEB },
  ] as HostRow[];
  let instances: InstanceRow[] = [];
  const bus = new LocalChangeBus();
  let now = 1_000_000;
  const ctx = {
    bus,
    store: {
      listClusters: async () => {
        reads.clusters++;
        return clusters.map((c) => ({ ...c, hosts: [...c.hosts] }));
      },
      listHosts: async () => {
        reads.hosts++;
        return hosts.map((h) => ({ ...h }));
      },
    },
    reports: { instances: () => instances },
  } as unknown as Pick<ServerContext, 'store' | 'reports' | 'bus'>;
  const scopes = new HostScopes(ctx, () => now);
  const tagsOf = async (host: string, fresh = false) => [...((await scopes.tagsByHost({ fresh })).get(host) ?? [])];
  return {
    reads,
    clusters,
    bus,
    tagsOf,
    scopes,
    later: (ms: number) => void (now += ms),
    run: (host: string, tag: string) => void (instances = [...instances, { host, tag } as InstanceRow]),
  };
}

test("a host's tags: its clusters, its scope, its instances; the store read once per TTL, not per read", async () => {
  const f = fleet();
  assert.deepEqual(await f.tagsOf('h1'), [CLUSTER]);
  assert.deepEqual(await f.tagsOf('h2'), [WEB]);
  assert.deepEqual(await f.tagsOf('h3'), []);
  assert.deepEqual(f.reads, { clusters: 1, hosts: 1 });
  f.run('h3', `${CLUSTER}`);
  assert.deepEqual(await f.tagsOf('h3'), [CLUSTER], 'an instance counts at once: the read model, not the store');
  assert.deepEqual(f.reads, { clusters: 1, hosts: 1 });
  f.later(HOST_SCOPE_TTL_MS);
  await f.tagsOf('h1');
  assert.deepEqual(f.reads, { clusters: 2, hosts: 2 }, 'read again after the TTL');
});

test('a cluster change heard on the bus, or a fresh read, reads the store again', async () => {
  const f = fleet();
  await f.tagsOf('h1');
  f.clusters[0]!.hosts.push('h4');
  assert.deepEqual(await f.tagsOf('h4'), [], 'kept within the TTL');
  assert.deepEqual(await f.tagsOf('h4', true), [CLUSTER], 'fresh');
  assert.deepEqual(f.reads, { clusters: 2, hosts: 2 });
  f.clusters[0]!.hosts.push('h5');
  await f.bus.publish(CHANNELS.tree, 'clusters');
  assert.deepEqual(await f.tagsOf('h5'), [CLUSTER]);
  assert.deepEqual(f.reads, { clusters: 3, hosts: 3 });
});

test('reads at once share one store read; one begun before a change is not kept', async () => {
  const f = fleet();
  const [a, b] = await Promise.all([f.tagsOf('h1'), f.tagsOf('h1')]);
  assert.deepEqual([a, b], [[CLUSTER], [CLUSTER]]);
  assert.deepEqual(f.reads, { clusters: 1, hosts: 1 });
  f.later(HOST_SCOPE_TTL_MS);
  const reading = f.tagsOf('h6');
  f.clusters[0]!.hosts.push('h6'); // the read above may have missed it...
  await f.bus.publish(CHANNELS.tree, 'clusters'); // ...and the change is heard while it runs
  await reading;
  assert.deepEqual(await f.tagsOf('h6'), [CLUSTER], 'read again, not the read begun before the change');
});
