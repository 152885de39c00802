/**
 * `rebalanceChanges`: a rebalance's moves as placements, one instance per move, replicas counted
 * (schedule-rebalance.ts, schedule-replicas.ts). Pure: exact equality, no store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rebalanceChanges } from './schedule-rebalance.js';
import type { LoopCluster } from './schedule-ports.js';

const SPEC = { count: 3, cpu: 1, memory: 0, constraints: [], distinctHosts: false, spread: null };
const cluster = (hosts: string[], replicas?: Record<string, number>): LoopCluster => ({ tag: 'c', hosts, spec: SPEC, replicas });
const move = (from: string, to: string) => ({ tag: 'c', from, to, reason: `free host ${from}` });

test('a move off a host with one instance replaces it, in place', () => {
  assert.deepEqual(rebalanceChanges([cluster(['h1', 'h2'])], [move('h2', 'h3')]), [
    {
      tag: 'c',
      hosts: ['h1', 'h3'],
      replicas: {},
      events: [{ tag: 'c', kind: 'rebalance', from: 'h2', to: 'h3', reason: 'free host h2' }],
    },
  ]);
});

test('a move off a host with several replicas lowers its count; onto a host of the cluster raises it', () => {
  const [c] = rebalanceChanges([cluster(['h1', 'h2'], { h2: 2 })], [move('h2', 'h1')]);
  assert.deepEqual({ hosts: c!.hosts, replicas: c!.replicas }, { hosts: ['h1', 'h2'], replicas: { h1: 2 } });
  const [d] = rebalanceChanges([cluster(['h1', 'h2'], { h2: 3 })], [move('h2', 'h1'), move('h2', 'h1'), move('h2', 'h3')]);
  assert.deepEqual({ hosts: d!.hosts, replicas: d!.replicas }, { hosts: ['h1', 'h3'], replicas: { h1: 3 } });
  assert.equal(d!.events.length, 3);
});

test('a move from a host the cluster is not on, or of an unknown cluster, changes nothing', () => {
  assert.deepEqual(rebalanceChanges([cluster(['h1'])], [move('h9', 'h2'), { ...move('h1', 'h2'), tag: 'other' }]), []);
});
