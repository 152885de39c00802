/**
 * Every API route has route tests: each declared route (method and URL pattern, as fastify
 * matched it) is named by a `routeTest(...)` in `routes/*.inject.test.ts` (which checks the route
 * was really called), and no test names a route that does not exist. A HEAD route is fastify's
 * twin of a GET: covered by its GET's tests, and checked here to answer as its GET does.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiRoutes, startTestApp, type TestApp } from './test-app.js';

const ROUTES_DIR = join(import.meta.dirname, 'routes');
const TEST_FILE = /\.inject\.test\.ts$/;

/** `METHOD /url` of every route a route test names, with the files that name it. */
function coveredRoutes(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of readdirSync(ROUTES_DIR).filter((f) => TEST_FILE.test(f)).sort()) {
    const text = readFileSync(join(ROUTES_DIR, file), 'utf8');
    for (const m of text.matchAll(/routeTest\(\s*'([A-Z]+ \/[^']*)'/g)) out.set(m[1]!, [...(out.get(m[1]!) ?? []), file]);
  }
  return out;
}

let t: TestApp;
before(async () => {
  t = await startTestApp();
});
after(() => t.close());

test('every API route is named by a route test, and every named route exists', () => {
  const declared = apiRoutes(t.app);
  assert.ok(declared.length > 40, `only ${declared.length} routes declared`);
  const covered = coveredRoutes();
  const missing = declared.filter((r) => r.method !== 'HEAD' && !covered.has(`${r.method} ${r.url}`)).map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(missing, [], `routes without an inject test (add a routeTest in src/server/routes/*.inject.test.ts): ${missing.join(', ')}`);
  const names = new Set(declared.map((r) => `${r.method} ${r.url}`));
  const stale = [...covered.keys()].filter((r) => !names.has(r));
  assert.deepEqual(stale, [], `route tests name routes that are not declared: ${stale.join(', ')}`);
  for (const r of declared.filter((x) => x.method === 'HEAD')) assert.ok(names.has(`GET ${r.url}`), `HEAD ${r.url} without a GET`);
});

/** A URL for a route pattern, with a value for each parameter (none of them exists). */
function concrete(url: string): string {
  return url.replace(/:sha256/g, 'a'.repeat(64)).replace(/:tag/g, 'cop.acme').replace(/:name/g, 'h1').replace(/:ref/g, 'x')
    .replace(/:action/g, 'pause').replace(/:id/g, '1').replace(/:scope/g, 'cop.acme');
}

test('every HEAD route answers the status its GET does, with no body', async () => {
  for (const r of apiRoutes(t.app).filter((x) => x.method === 'HEAD')) {
    const url = concrete(r.url);
    const get = await t.call(t.adminToken, 'GET', url);
    const head = await t.call(t.adminToken, 'HEAD', url);
    assert.equal(head.statusCode, get.statusCode, `HEAD ${url}`);
    assert.equal(head.body, '', `HEAD ${url}`);
  }
});
