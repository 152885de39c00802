import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { consoleDirs, consoleRoutes, contentSecurityPolicy } from './console.js';

async function app(built: boolean) {
  const web = mkdtempSync(join(tmpdir(), 'noops-console-'));
  if (built) {
    mkdirSync(join(web, 'ui'));
    writeFileSync(join(web, 'ui', 'main.js'), 'export {};\n');
  }
  const a = Fastify();
  await consoleRoutes(a, { webDir: web, assetsDir: consoleDirs().assetsDir });
  return {
    a,
    done: async () => {
      await a.close();
      rmSync(web, { recursive: true, force: true });
    },
  };
}

test('the page is served with a strict CSP that allows its import map by hash, and no referrer', async () => {
  const { a, done } = await app(true);
  try {
    const r = await a.inject('/');
    assert.equal(r.statusCode, 200);
    assert.match(r.headers['content-type'] as string, /^text\/html/);
    assert.match(r.body, /<script type="importmap">/);
    const csp = r.headers['content-security-policy'] as string;
    const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(r.body)![1]!;
    assert.ok(csp.includes(`'sha256-${createHash('sha256').update(map).digest('base64')}'`), csp);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(r.headers['referrer-policy'], 'no-referrer');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
  } finally {
    await done();
  }
});

test('the compiled modules, the assets and the three vendor files are served, nothing else', async () => {
  const { a, done } = await app(true);
  try {
    const main = await a.inject('/ui/app/ui/main.js');
    assert.equal(main.statusCode, 200);
    assert.match(main.headers['content-type'] as string, /javascript/);
    assert.equal(main.headers['cache-control'], 'no-cache');
    assert.ok(main.headers['content-security-policy']);
    assert.equal((await a.inject('/ui/assets/console.css')).statusCode, 200);
    for (const f of ['preact.js', 'preact-hooks.js', 'htm.js']) {
      const r = await a.inject(`/ui/vendor/${f}`);
      assert.equal(r.statusCode, 200, f);
      assert.match(r.body, /export/, `${f} is an ES module`);
    }
    assert.equal((await a.inject('/ui/vendor/package.json')).statusCode, 404);
    assert.equal((await a.inject('/ui/vendor/..%2F..%2Fpackage.json')).statusCode, 404);
    assert.equal((await a.inject('/ui/app/../../package.json')).statusCode, 404);
    assert.equal((await a.inject('/ui/assets/%2e%2e/%2e%2e/server/console.ts')).statusCode, 404);
  } finally {
    await done();
  }
});

test("uPlot's module and stylesheet are served from node_modules for the charts, with their types", async () => {
  const { a, done } = await app(true);
  try {
    const js = await a.inject('/ui/vendor/uplot.js');
    assert.equal(js.statusCode, 200);
    assert.match(js.headers['content-type'] as string, /javascript/);
    assert.match(js.body, /export \{ uPlot as default \}/);
    const css = await a.inject('/ui/vendor/uplot.css');
    assert.equal(css.statusCode, 200);
    assert.match(css.headers['content-type'] as string, /^text\/css/);
    assert.match(css.body, /\.uplot/);
    const page = await a.inject('/');
    assert.match(page.body, /"uplot": "\/ui\/vendor\/uplot\.js"/, 'the import map names it');
  } finally {
    await done();
  }
});

test('an unbuilt console says how to build it instead of a blank page', async () => {
  const { a, done } = await app(false);
  try {
    const r = await a.inject('/');
    assert.equal(r.statusCode, 503);
    assert.match(r.body, /npm run build/);
  } finally {
    await done();
  }
});

test('the CSP of a page without an import map allows no inline script at all', () => {
  assert.match(contentSecurityPolicy('<html></html>'), /script-src 'self';/);
  assert.ok(
    readFileSync(join(consoleDirs().assetsDir, 'index.html'), 'utf8').includes('/ui/app/ui/main.js'),
    'the page loads the compiled entry',
  );
});
