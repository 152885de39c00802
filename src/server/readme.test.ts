/**
 * The server's README lists every route with the access it declares: this keeps the table equal
 * to what the app really registers (`declaredRoutes`), both ways.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_PREFIX } from '../api/index.js';
import { buildApp } from './app.js';
import { declaredRoutes } from './gate.js';
import { startServer } from './index.js';

/** The README's route table, as `METHOD /api/v1/path access` lines. */
function readmeRoutes(): string[] {
  const text = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
  const rows = [...text.matchAll(/^\|[^|]*\| `([A-Z]+) (\/[^`]*)` \| ([a-z-]+) \|$/gm)];
  return rows.map(([, method, path, access]) => `${method} ${API_PREFIX}${path} ${access}`).sort();
}

test('the README lists every API route with its declared access, and no other', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-readme-'));
  const server = await startServer({ dataDir: dir, listen: '127.0.0.1:0', log: () => {} });
  t.after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const app = await buildApp(server.ctx, { console: false });
  t.after(() => app.close());
  await app.ready();
  const declared = declaredRoutes(app)
    .filter((r) => r.method !== 'HEAD' && r.url.startsWith(`${API_PREFIX}/`))
    .map((r) => `${r.method} ${r.url} ${r.access}`)
    .sort();
  const listed = readmeRoutes();
  assert.ok(listed.length > 40, `the README's table was not read (${listed.length} rows)`);
  assert.deepEqual(listed, declared);
});
