import { test } from 'node:test';
import assert from 'node:assert/strict';
import { href, parseRoute } from './routes.js';

test('every link parses back to its page', () => {
  const tag = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
  assert.deepEqual(parseRoute(href.home()), { page: 'home' });
  assert.deepEqual(parseRoute(href.node(tag)), { page: 'node', tag });
  assert.deepEqual(parseRoute(href.hosts()), { page: 'hosts' });
  assert.deepEqual(parseRoute(href.servers()), { page: 'servers' });
  assert.deepEqual(parseRoute(href.deployment(42)), { page: 'deployment', id: 42 });
});

test('no hash is home; anything else is a missing page, not an error', () => {
  assert.deepEqual(parseRoute(''), { page: 'home' });
  assert.deepEqual(parseRoute('#'), { page: 'home' });
  assert.deepEqual(parseRoute('#/nope'), { page: 'missing', hash: '#/nope' });
  assert.deepEqual(parseRoute('#/d/0'), { page: 'missing', hash: '#/d/0' });
  assert.deepEqual(parseRoute('#/d/abc'), { page: 'missing', hash: '#/d/abc' });
  assert.deepEqual(parseRoute('#/n/%E0%A4%A'), { page: 'missing', hash: '#/n/%E0%A4%A' });
});

test('the metrics and alarms pages keep what they show in their address', () => {
  const q = { selector: 'cop=acme,owt=web', host: 'h1', metric: 'cpu.idle', key: 'h1/cpu.idle', range: '6h' };
  assert.deepEqual(parseRoute(href.metrics(q)), { page: 'metrics', q });
  assert.deepEqual(parseRoute(href.metrics({ key: 'h1/df.bytes.free.percent/mount=/', from: 100, to: 200 })), {
    page: 'metrics',
    q: { key: 'h1/df.bytes.free.percent/mount=/', from: 100, to: 200 },
  });
  assert.deepEqual(parseRoute(href.metrics()), { page: 'metrics', q: {} });
  assert.deepEqual(parseRoute(href.alarms({ status: 'all', selector: 'cop=acme' })), {
    page: 'alarms',
    q: { status: 'all', selector: 'cop=acme' },
  });
  assert.deepEqual(parseRoute(href.alarms()), { page: 'alarms', q: {} });
  // a zoomed range that is not one (from after to, not whole seconds) is left out
  assert.deepEqual(parseRoute('#/metrics?from=200&to=100'), { page: 'metrics', q: {} });
  assert.deepEqual(parseRoute('#/metrics?from=1.5&to=100&host=h1'), { page: 'metrics', q: { host: 'h1' } });
  assert.deepEqual(parseRoute('#/metricsx'), { page: 'missing', hash: '#/metricsx' });
});
