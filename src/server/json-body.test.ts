import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { installJsonBodies, NUL_REPLACED_ROUTES, withoutNul } from './json-body.js';

test('withoutNul replaces every NUL of every string, keys too, and leaves the rest as it was', () => {
  assert.deepEqual(withoutNul({ a: ['x\u0000y', 1, null, { 'k\u0000': true }], b: 'plain' }), {
    a: ['x\uFFFDy', 1, null, { 'k\uFFFD': true }],
    b: 'plain',
  });
  const parsed = withoutNul(JSON.parse('{"__proto__": {"polluted": "\\u0000"}}')) as Record<string, unknown>;
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype is touched');
  assert.deepEqual(Object.keys(parsed), ['__proto__']);
});

test('the body parser: Fastify’s guards kept; a NUL refused, replaced on agents’ routes; an escaped backslash is no NUL', async (t) => {
  const app = Fastify();
  t.after(() => app.close());
  installJsonBodies(app);
  app.setErrorHandler((err: Error, _req, reply) => reply.status(400).send({ message: err.message }));
  app.post('/api/v1/agent/report', async (req) => req.body);
  app.post('/api/v1/other', async (req) => req.body);
  app.get('/api/v1/other', async () => ({}));
  app.post('/api/v1/agent/balancers', async (req) => req.body);
  app.post('/api/v1/agent/commands/:id', async (req) => req.body);
  const post = (url: string, payload: string) =>
    app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
  assert.deepEqual((await post('/api/v1/agent/report', '{"e":"a\\u0000b"}')).json(), { e: 'a\uFFFDb' });
  const refused = await post('/api/v1/other', '{"e":"a\\u0000b"}');
  assert.equal(refused.statusCode, 400);
  assert.match(refused.json().message, /NUL character/);
  // `\\u0000` in JSON is a backslash and the text u0000; `\\\u0000` is a backslash, then a NUL
  assert.deepEqual((await post('/api/v1/other', '{"e":"a\\\\u0000b"}')).json(), { e: 'a\\u0000b' });
  assert.match((await post('/api/v1/other', '{"e":"a\\\\\\u0000b"}')).json().message, /NUL character/);
  assert.match(
    (await post('/api/v1/other', '{"__proto__":{"x":1}}')).json().message,
    /not valid JSON/,
    'valid JSON, but a __proto__ key: refused as before',
  );
  assert.match((await post('/api/v1/other', '{"e":')).json().message, /JSON/, 'bad JSON as before');
  // agents' other routes
  for (const url of ['/api/v1/agent/balancers', '/api/v1/agent/commands/c1'])
    assert.deepEqual((await post(url, '{"out":"x\\u0000"}')).json(), { out: 'x\uFFFD' }, url);
  // a NUL in the URL
  const inUrl = await app.inject({ method: 'GET', url: '/api/v1/other?tag=a%00b' });
  assert.equal(inUrl.statusCode, 400);
  assert.match(inUrl.json().message, /URL holds a NUL/);
});

test('the routes whose NULs are replaced are routes of the server, by their patterns', async () => {
  const { startTestApp } = await import('./test-app.js');
  const t = await startTestApp();
  try {
    const routes = new Set(
      t.app
        .printRoutes({ commonPrefix: false })
        .split('\n')
        .map((l) => l.replace(/^[\s│├└─]+/, '').replace(/ \(.*\)$/, '')),
    );
    for (const url of NUL_REPLACED_ROUTES)
      assert.ok(routes.has(url), `${url} is a route (${[...routes].filter((r) => r.includes('agent')).join(', ')})`);
  } finally {
    await t.close();
  }
});
