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
  for (const file of readdirSync(ROUTES_DIR)
    .filter((f) => TEST_FILE.test(f))
    .sort()) {
    const text = readFileSync(join(ROUTES_DIR, file), 'utf8');
    for (const m of text.matchAll(/routeTest\(\s*'([A-Z]+ \/[^']*)'/g)) out.set(m[1]!, [...(out.get(m[1]!) ?? []), file]);
  }
  return out;
}

let t: TestApp;
let agent: string;
before(async () => {
  t = await startTestApp({ longPollMs: 50 });
  agent = await t.agent('h1');
});
after(() => t.close());

test('every API route is named by a route test, and every named route exists', () => {
  const declared = apiRoutes(t.app);
  assert.ok(declared.length > 40, `only ${declared.length} routes declared`);
  const covered = coveredRoutes();
  const missing = declared.filter((r) => r.method !== 'HEAD' && !covered.has(`${r.method} ${r.url}`)).map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(
    missing,
    [],
    `routes without an inject test (add a routeTest in src/server/routes/*.inject.test.ts): ${missing.join(', ')}`,
  );
  const names = new Set(declared.map((r) => `${r.method} ${r.url}`));
  const stale = [...covered.keys()].filter((r) => !names.has(r));
  assert.deepEqual(stale, [], `route tests name routes that are not declared: ${stale.join(', ')}`);
  for (const r of declared.filter((x) => x.method === 'HEAD')) assert.ok(names.has(`GET ${r.url}`), `HEAD ${r.url} without a GET`);
});

/** A URL for a route pattern, with a value for each parameter (none of them exists). */
function concrete(url: string): string {
  return url
    .replace(/:sha256/g, 'a'.repeat(64))
    .replace(/:tag/g, 'cop.acme')
    .replace(/:name/g, 'h1')
    .replace(/:ref/g, 'x')
    .replace(/:action/g, 'pause')
    .replace(/:id/g, '1')
    .replace(/:scope/g, 'cop.acme');
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

/** Path parameters a caller might send by mistake: bad encodings, dot segments, huge numbers, prototype names. */
const ODD_PARAMS: Record<string, string> = {
  sha256: '%00',
  tag: '%E0%A4%A',
  name: '%2e%2e',
  ref: '%00',
  action: '__proto__',
  id: '1e309',
  scope: '%ZZ',
};
/** Bodies of the wrong shape: nothing, null, an array, a string, a number, fields of the wrong types. */
const ODD_BODIES: unknown[] = [
  undefined,
  null,
  [],
  'text',
  42,
  { tag: 1, hosts: 'x', name: [], scope: {}, value: 1, kind: 'team', conf: 7, version: 1, host: 1, action: 1, processes: 'x', repo: 1 },
];

/** Calls every route with odd parameters and bodies; answers each call's route, URL, body and answer. */
async function oddCalls(): Promise<{ what: string; status: number; code: string | undefined; body: string }[]> {
  const out: { what: string; status: number; code: string | undefined; body: string }[] = [];
  for (const r of apiRoutes(t.app).filter((x) => x.method !== 'HEAD')) {
    const token = r.access === 'agent' ? agent : r.access === 'join' ? t.joinToken : t.adminToken;
    for (const url of [
      concrete(r.url),
      r.url.replace(/:(\w+)/g, (_, k: string) => ODD_PARAMS[k] ?? 'x'),
      `${concrete(r.url)}?limit=1e999&offset=NaN`,
    ]) {
      for (const body of r.method === 'GET' || r.method === 'DELETE' ? [undefined] : ODD_BODIES) {
        const res = await t.app.inject({
          method: r.method as 'GET',
          url,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          payload: body === undefined ? undefined : JSON.stringify(body),
        });
        out.push({
          what: `${r.method} ${url} ${JSON.stringify(body)}`,
          status: res.statusCode,
          code: (res.json() as { code?: string }).code,
          body: res.body,
        });
      }
    }
  }
  return out;
}

test("no route answers a caller's mistake (odd parameters, bodies of the wrong shape, odd paging) with a 500", async () => {
  const failures = (await oddCalls()).filter((c) => c.status >= 500).map((c) => `${c.what}: ${c.status} ${c.body}`);
  assert.deepEqual(failures, []);
});

test("every refusal of a caller's mistake is in the one error format (a NOOPS_E_ code)", async () => {
  const other = (await oddCalls())
    .filter((c) => c.status >= 400 && !/^NOOPS_E_/.test(c.code ?? ''))
    .map((c) => `${c.what}: ${c.status} ${c.code}`);
  assert.deepEqual(other, []);
});
