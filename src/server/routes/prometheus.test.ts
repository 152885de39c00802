/** The request counter: the text a `Counter` of the same labels renders, its label text made once per label set. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter } from '../../monitor/victoria/index.js';
import { RequestCounter } from './prometheus.js';

test('RequestCounter renders what a Counter of method, route and status renders, for the same calls', () => {
  const calls: [string, string, number][] = [
    ['GET', '/api/v1/nodes/:tag', 200],
    ['POST', '/api/v1/agent/report', 200],
    ['GET', '/api/v1/nodes/:tag', 404],
    ['GET', '/api/v1/nodes/:tag', 200],
    ['GET', 'unmatched', 404],
    ['POST', '/api/v1/agent/report', 200],
    ['GET', '/say/"hi"\\', 200],
  ];
  const counter = new Counter('noops_http_requests_total', 'HTTP requests answered.');
  const requests = new RequestCounter('noops_http_requests_total', 'HTTP requests answered.');
  assert.equal(requests.render(), counter.render(), 'no call yet: one 0');
  for (const [method, route, status] of calls) {
    counter.inc(1, { method, route, status: String(status) });
    requests.inc(method, route, status);
  }
  const sorted = (text: string) => text.split('\n').sort();
  assert.deepEqual(sorted(requests.render()), sorted(counter.render()));
  assert.match(requests.render(), /^noops_http_requests_total\{method="GET",route="\/api\/v1\/nodes\/:tag",status="200"\} 2$/m);
  assert.match(requests.render(), /route="\/say\/\\"hi\\"\\\\"/, 'label values escaped');
});
