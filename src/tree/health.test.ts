import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTree } from './index.js';
import { annotateTree, healthByTag, healthOf } from './health.js';

const JOB = 'cop.acme_owt.web_pdl.shop_service.api_job.web';
const PROD = `${JOB}_cluster.prod`;
const STAGING = `${JOB}_cluster.staging`;

test('one word from the counts', () => {
  assert.equal(healthOf({ hosts: 0, hostsDown: 0, instances: 0, instancesUp: 0 }), 'idle');
  assert.equal(healthOf({ hosts: 2, hostsDown: 0, instances: 0, instancesUp: 0 }), 'idle');
  assert.equal(healthOf({ hosts: 2, hostsDown: 0, instances: 2, instancesUp: 2 }), 'ok');
  assert.equal(healthOf({ hosts: 2, hostsDown: 1, instances: 2, instancesUp: 2 }), 'degraded');
  assert.equal(healthOf({ hosts: 2, hostsDown: 0, instances: 2, instancesUp: 1 }), 'degraded');
  assert.equal(healthOf({ hosts: 2, hostsDown: 2, instances: 0, instancesUp: 0 }), 'down');
  assert.equal(healthOf({ hosts: 2, hostsDown: 0, instances: 2, instancesUp: 0 }), 'down');
});

test('counts add up the tree: hosts once, an instance up only when every process is', () => {
  const health = healthByTag({
    clusters: [
      { tag: PROD, hosts: ['h1', 'h2'] },
      { tag: STAGING, hosts: ['h2', 'h3'] },
    ],
    hostUp: new Map([
      ['h1', true],
      ['h2', true],
      ['h3', false],
    ]),
    processes: [
      { host: 'h1', tag: PROD, state: 'up' },
      { host: 'h1', tag: PROD, state: 'backoff' }, // a second process of the same instance
      { host: 'h2', tag: PROD, state: 'up' },
      { host: 'h2', tag: STAGING, state: 'up' },
    ],
    running: [STAGING],
  });
  assert.deepEqual(health.get(PROD), { hosts: 2, hostsDown: 0, instances: 2, instancesUp: 1, health: 'degraded', deploying: false });
  assert.deepEqual(health.get(STAGING), { hosts: 2, hostsDown: 1, instances: 1, instancesUp: 1, health: 'degraded', deploying: true });
  assert.deepEqual(health.get('cop.acme'), { hosts: 3, hostsDown: 1, instances: 3, instancesUp: 2, health: 'degraded', deploying: true });
});

test('the annotated tree keeps its shape and marks empty nodes idle', () => {
  const roots = buildTree([PROD, 'cop.acme_owt.ops'], new Map([[PROD, ['h1']]]));
  const health = healthByTag({
    clusters: [{ tag: PROD, hosts: ['h1'] }],
    hostUp: new Map([['h1', true]]),
    processes: [{ host: 'h1', tag: PROD, state: 'up' }],
    running: [],
  });
  const [acme] = annotateTree(roots, health);
  assert.equal(acme!.tag, 'cop.acme');
  assert.deepEqual(
    acme!.children.map((c) => [c.name, c.hosts, c.instances, c.health]),
    [
      ['ops', 0, 0, 'idle'],
      ['web', 1, 1, 'ok'],
    ],
  );
});
