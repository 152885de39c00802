import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assigned, constraints, distinctHosts, feasible, firstFailure, leaveReason, notDraining, ports, resources, up } from './filters.js';
import { GiB, MiB, placeAsk, schedHost } from './testing.js';

test('up: a host not heard within down_after is left out as down', () => {
  assert.equal(up(schedHost('a'), placeAsk('web')), null);
  assert.equal(up(schedHost('a', { up: false }), placeAsk('web')), 'down');
});

test('up: an unheard host the migration budget keeps holds its instance and takes no new one', () => {
  const quiet = schedHost('a', { unheard: true });
  assert.equal(up(quiet, placeAsk('web'), true), null);
  assert.equal(feasible(quiet, placeAsk('web'), true), true);
  assert.match(up(quiet, placeAsk('web')) ?? '', /^unheard/);
  assert.equal(feasible(quiet, placeAsk('web')), false);
});

test('assigned: only hosts assigned to a node that holds the cluster; unassigned and other parts of the tree never', () => {
  const cluster = placeAsk('cop.acme_owt.web_pdl.shop_job.api_cluster.prod');
  assert.equal(assigned(schedHost('a'), cluster), null, 'not checked when the caller gives no scope');
  assert.equal(assigned(schedHost('a', { scope: 'cop.acme' }), cluster), null);
  assert.equal(assigned(schedHost('a', { scope: 'cop.acme_owt.web' }), cluster), null);
  assert.equal(assigned(schedHost('a', { scope: 'cop.acme_owt.web_pdl.shop_job.api_cluster.prod' }), cluster), null);
  assert.match(assigned(schedHost('a', { scope: null }), cluster) ?? '', /not assigned/);
  assert.equal(assigned(schedHost('a', { scope: 'cop.acme_owt.mail' }), cluster), 'assigned to cop.acme_owt.mail');
  assert.equal(
    assigned(schedHost('a', { scope: 'cop.acme_owt.we' }), cluster),
    'assigned to cop.acme_owt.we',
    'a prefix of a value is not a node above',
  );
  assert.equal(feasible(schedHost('a', { scope: null }), cluster), false);
  assert.equal(feasible(schedHost('a', { scope: 'cop.acme_owt.mail' }), cluster), false);
  assert.equal(feasible(schedHost('a', { scope: 'cop.acme_owt.web' }), cluster), true);
});

test('notDraining: a drained host takes nothing', () => {
  assert.equal(notDraining(schedHost('a'), placeAsk('web')), null);
  assert.equal(notDraining(schedHost('a', { draining: true }), placeAsk('web')), 'draining');
});

test('resources: fits when allocated + ask <= capacity, and the reason names the dimension', () => {
  const h = schedHost('a', { capacity: { cpu: 2, memory: 1 * GiB, disk: 0 }, allocated: { cpu: 1.5, memory: 900 * MiB, disk: 0 } });
  assert.equal(resources(h, placeAsk('web', { cpu: 0.5, memory: 100 * MiB })), null);
  assert.equal(resources(h, placeAsk('web', { cpu: 1, memory: 0 })), 'cpu: 1 asked, 0.5 free');
  assert.equal(resources(h, placeAsk('web', { cpu: 0, memory: 256 * MiB })), 'memory: 256M asked, 124M free');
  assert.equal(resources(h, placeAsk('web', { cpu: 0, memory: 1.5 * GiB })), 'memory: 1.5G asked, 124M free');
});

test('resources: a held instance is already in allocated, so keeping it fits exactly', () => {
  const h = schedHost('a', { capacity: { cpu: 1, memory: GiB, disk: 0 }, allocated: { cpu: 1, memory: GiB, disk: 0 } });
  const ask = placeAsk('web', { cpu: 1, memory: GiB });
  assert.equal(resources(h, ask, true), null);
  assert.equal(resources(h, ask, false), 'cpu: 1 asked, 0 free');
});

test('resources: sums of fractions of cores fit (0.1 + 0.2 on 0.3)', () => {
  const h = schedHost('a', { capacity: { cpu: 0.3, memory: GiB, disk: 0 }, allocated: { cpu: 0.1 + 0.2 - 0.1, memory: 0, disk: 0 } });
  assert.equal(resources(h, placeAsk('web', { cpu: 0.1, memory: 0 })), null);
});

test('resources: a host that never reported a capacity takes nothing', () => {
  const h = schedHost('a', { capacity: { cpu: 0, memory: 0, disk: 0 } });
  assert.equal(resources(h, placeAsk('web', { cpu: 0, memory: 0 })), 'no capacity reported');
});

test('constraints: = needs the value, != passes other values and hosts without the label', () => {
  const r3 = schedHost('a', { labels: { rack: 'r3' } });
  const r1 = schedHost('b', { labels: { rack: 'r1' } });
  const none = schedHost('c');
  const not3 = placeAsk('web', { constraints: [{ label: 'rack', op: '!=', value: 'r3' }] });
  const only1 = placeAsk('web', { constraints: [{ label: 'rack', op: '=', value: 'r1' }] });
  assert.equal(constraints(r3, not3), 'constraint rack!=r3');
  assert.equal(constraints(r1, not3), null);
  assert.equal(constraints(none, not3), null);
  assert.equal(constraints(r1, only1), null);
  assert.equal(constraints(r3, only1), 'constraint rack=r1');
  assert.equal(constraints(none, only1), 'constraint rack=r1');
});

test('distinctHosts: keeps the cluster off hosts running another cluster of its job', () => {
  const ask = placeAsk('web.prod', { distinctHosts: true }, { job: 'web' });
  assert.equal(distinctHosts(schedHost('a', { jobs: ['db'] }), ask), null);
  assert.equal(distinctHosts(schedHost('a', { jobs: ['web'] }), ask), 'distinct hosts: another cluster of web runs here');
  // held: its own instance is the one entry of its job
  assert.equal(distinctHosts(schedHost('a', { jobs: ['web'] }), ask, true), null);
  assert.equal(distinctHosts(schedHost('a', { jobs: ['web', 'web'] }), ask, true), 'distinct hosts: another cluster of web runs here');
  // without the flag, clusters of one job share hosts
  assert.equal(distinctHosts(schedHost('a', { jobs: ['web'] }), placeAsk('web.prod')), null);
});

test('distinctHosts: holds both ways, so a cluster keeps off a host where a cluster of its job asks for its own hosts', () => {
  const host = schedHost('a', { jobs: ['web'], distinctJobs: ['web'] });
  assert.equal(distinctHosts(host, placeAsk('web.canary')), 'distinct hosts: a cluster of web that asks for its own hosts runs here');
  assert.equal(distinctHosts(host, placeAsk('db.prod')), null);
});

test('ports: a fixed port held by another instance is taken', () => {
  const ask = placeAsk('web', {}, { ports: [8080] });
  assert.equal(ports(schedHost('a', { ports: [9090] }), ask), null);
  assert.equal(ports(schedHost('a', { ports: [8080] }), ask), 'port 8080 taken');
  assert.equal(ports(schedHost('a', { ports: [8080] }), ask, true), null);
  assert.equal(ports(schedHost('a', { ports: [8080] }), placeAsk('web')), null);
});

test('leaveReason: what the plan says of a current host that no longer passes', () => {
  assert.equal(leaveReason('down'), 'host down');
  assert.equal(leaveReason('draining'), 'draining');
  assert.equal(leaveReason('memory: 256M asked, 100M free'), 'no longer fits: memory: 256M asked, 100M free');
});

test('feasible agrees with firstFailure on many hosts and asks', () => {
  let seed = 7;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let n = 0; n < 2000; n++) {
    const h = schedHost('h', {
      up: rand() > 0.1,
      draining: rand() < 0.1,
      labels: rand() < 0.8 ? { rack: `r${Math.floor(rand() * 3)}` } : {},
      capacity: { cpu: Math.floor(rand() * 4), memory: Math.floor(rand() * 4) * GiB, disk: 0 },
      allocated: { cpu: Math.floor(rand() * 3), memory: Math.floor(rand() * 3) * GiB, disk: 0 },
      jobs: rand() < 0.3 ? ['web'] : [],
      distinctJobs: rand() < 0.2 ? ['web'] : [],
      ports: rand() < 0.3 ? [80] : [],
    });
    const ask = placeAsk(
      'web.x',
      {
        cpu: Math.floor(rand() * 3) / 2,
        memory: Math.floor(rand() * 3) * 512 * MiB,
        distinctHosts: rand() < 0.5,
        constraints: rand() < 0.5 ? [{ label: 'rack', op: rand() < 0.5 ? '=' : '!=', value: 'r1' }] : [],
      },
      { job: 'web', ports: rand() < 0.5 ? [80] : [] },
    );
    const held = rand() < 0.3;
    assert.equal(feasible(h, ask, held), firstFailure(h, ask, held) === null, JSON.stringify({ h, ask, held }));
  }
});
