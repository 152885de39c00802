/**
 * The scheduler loop over ports held in memory (schedule-ports.ts), for what a real store would
 * only slow down: how the loop builds the planner's view of the hosts from the clusters placed on
 * them, tick after tick.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScheduleLoop } from './schedule-loop.js';
import { schedulePlanner } from './schedule-planner.js';
import type { LoopCluster, LoopHost, ScheduleState, ScheduleWriter } from './schedule-ports.js';
import { TREE } from './test-app.js';

const GiB = 1024 ** 3;
const SPEC = { count: 1, cpu: 1, memory: GiB, constraints: [], distinctHosts: false, spread: null };

/** Hosts and clusters in memory; placements written by the loop land in `clusters`. */
function memory(hosts: LoopHost[], clusters: LoopCluster[]): { state: ScheduleState; write: ScheduleWriter } {
  const vacating = new Map<string, number>();
  const state: ScheduleState = {
    hosts: async () => hosts,
    scheduledClusters: async () => clusters.map((c) => ({ ...c, hosts: [...c.hosts] })),
    desired: async () => [],
    deploying: async () => false,
    version: async () => null,
    reportedTags: () => undefined,
    fixedPorts: async () => [],
    staleCopies: async () => [],
    vacating: async () => new Map(vacating),
    rebalanceRequests: async () => [],
    now: async () => Date.now(),
  };
  const write: ScheduleWriter = {
    async setPlacements(tag, placed, _events, replicas) {
      const c = clusters.find((x) => x.tag === tag)!;
      c.hosts = [...placed];
      if (replicas !== undefined) c.replicas = replicas;
    },
    setReplicas: async () => undefined,
    deployTo: async () => undefined,
    undeployFrom: async () => undefined,
    dropDead: async () => undefined,
    clearStale: async () => undefined,
    rebalanced: async () => true,
    async setVacating(add, remove) {
      for (const h of remove) vacating.delete(h);
      for (const v of add) if (!vacating.has(v.host)) vacating.set(v.host, v.at);
    },
  };
  return { state, write };
}

const host = (name: string): LoopHost => ({
  name,
  labels: {},
  lastSeen: new Date().toISOString(),
  draining: false,
  capacity: { cpu: 4, memory: 8 * GiB, disk: 100 * GiB },
  scope: TREE.ROOT,
});

test('distinct hosts hold across ticks: a cluster placed later keeps off a host where its job asks for its own', async () => {
  const distinct = `${TREE.JOB}_cluster.a`;
  const other = `${TREE.JOB}_cluster.b`;
  const clusters: LoopCluster[] = [
    { tag: distinct, hosts: ['h1'], spec: { ...SPEC, distinctHosts: true } },
    { tag: other, hosts: [], spec: SPEC },
  ];
  const { state, write } = memory([host('h1'), host('h2')], clusters);
  const loop = new ScheduleLoop({ state, write, planner: schedulePlanner() });
  await loop.tick();
  // h1 is the fuller host: bin-packing would take it, were the rule not kept from the tick before
  assert.deepEqual(clusters[1]!.hosts, ['h2']);
  await loop.tick();
  assert.deepEqual(
    clusters.map((c) => c.hosts),
    [['h1'], ['h2']],
    'and nothing moves after',
  );
});

test('a cluster that comes to ask for distinct hosts leaves a host it shares with another cluster of its job', async () => {
  const a = `${TREE.JOB}_cluster.a`;
  const b = `${TREE.JOB}_cluster.b`;
  const clusters: LoopCluster[] = [
    { tag: a, hosts: ['h1'], spec: { ...SPEC, distinctHosts: true } },
    { tag: b, hosts: ['h1'], spec: SPEC },
  ];
  const { state, write } = memory([host('h1'), host('h2')], clusters);
  await new ScheduleLoop({ state, write, planner: schedulePlanner() }).tick();
  assert.deepEqual(clusters[0]!.hosts, ['h2'], 'the two clusters of one job share no host');
  assert.deepEqual(clusters[1]!.hosts, ['h1']);
});
