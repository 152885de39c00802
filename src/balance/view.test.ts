/**
 * The pool view's liveness: time passing costs a look at the hosts whose down-after comes, not
 * a sweep of every host (issue 19: 10,000 hosts every second before).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancers } from './service.js';
import { FakeRuns, MemoryBalanceStore, upProcess } from './testing.js';

const SHOP = 'cop.acme_owt.web_pdl.shop_service.hello_job.web_cluster.dev';
const HOSTS = 1000;

test('time passing looks only at the hosts whose liveness runs out; a silent one leaves the pools at its down-after', async () => {
  const runs = new FakeRuns();
  runs.downAfterMs = 60_000;
  const store = new MemoryBalanceStore();
  for (let i = 0; i < HOSTS; i++) store.addHost(`h${i}`, `10.0.${i >> 8}.${i & 255}`);
  store.addHost('lb', '10.9.0.1');
  store.setPool('web', { selector: 'service=hello', host: 'lb', driver: 'haproxy', socket: '/run/haproxy.sock', backend: 'web' });
  const balancers = new Balancers({ reports: runs, store, view: { hostsRefreshMs: 60_000, reloadMs: 60_000 } });
  await balancers.start();
  try {
    const view = balancers.view;
    runs.report('lb', []);
    for (let i = 0; i < HOSTS; i++) runs.report(`h${i}`, [upProcess(SHOP, 'aaaaaaaaa')]);
    const ready = (): number => view.desiredMembers('web').filter((m) => m.state === 'ready').length;
    assert.equal(ready(), HOSTS);
    const before = runs.isUpCalls;
    await new Promise((r) => setTimeout(r, 1500)); // a sweep every second looked at every host at least once
    assert.equal(runs.isUpCalls - before, 0, 'nobody is due: no host looked at');
    runs.downAfterMs = 100; // h0's next report makes it due in 100 ms; the others stay due in a minute
    runs.report('h0', [upProcess(SHOP, 'aaaaaaaaa')]);
    const index = view.index('lb');
    await view.wait('lb', index, 10_000);
    assert.ok(Date.now() - runs.seenAt.get('h0')! > 100, 'not before its down-after');
    assert.equal(view.desiredMembers('web').find((m) => m.host === 'h0')?.state, 'maint');
    assert.equal(ready(), HOSTS - 1);
    assert.ok(runs.isUpCalls - before <= 5, `looked at ${runs.isUpCalls - before} hosts' liveness for one due host`);
  } finally {
    balancers.close();
  }
});
