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
