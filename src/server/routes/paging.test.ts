import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../api/index.js';
import { API_PREFIX } from '../../api/index.js';
import { startServer } from '../index.js';
import { NEXT_HEADER, PAGE_MAX, parsePage } from './paging.js';

test('parsePage: PAGE_MAX by default and at most; a bad value is NOOPS_E_INPUT', () => {
  assert.deepEqual(parsePage({}), { limit: PAGE_MAX, offset: 0 });
  assert.deepEqual(parsePage({ limit: '5000', offset: '7' }), { limit: PAGE_MAX, offset: 7 });
  assert.throws(() => parsePage({ limit: '0' }), /limit must be a whole number of at least 1/);
  assert.throws(() => parsePage({ offset: '-1' }), /offset must be/);
});

test('lists are paged: ?limit= and x-noops-next (offset= or before=); the client follows every page', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-paging-'));
  const server = await startServer({ dataDir: dir, listen: '127.0.0.1:0' });
  try {
    const token = readFileSync(server.adminTokenFile, 'utf8').trim();
    const joiner = new ApiClient(server.url, readFileSync(server.joinTokenFile, 'utf8').trim());
    for (const name of ['h1', 'h2', 'h3']) await joiner.join({ name, labels: {} });
    const get = (path: string): Promise<Response> =>
      fetch(`${server.url}${API_PREFIX}${path}`, { headers: { authorization: `Bearer ${token}` } });

    const first = await get('/hosts?limit=2');
    assert.deepEqual(
      ((await first.json()) as { name: string }[]).map((h) => h.name),
      ['h1', 'h2'],
    );
    assert.equal(first.headers.get(NEXT_HEADER), '2');
    const last = await get('/hosts?limit=2&offset=2');
    assert.deepEqual(
      ((await last.json()) as { name: string }[]).map((h) => h.name),
      ['h3'],
    );
    assert.equal(last.headers.get(NEXT_HEADER), null, 'the last page says nothing follows');
    assert.equal((await get('/hosts?limit=x')).status, 400);

    // Newest first by id: the next page is before the last id seen.
    const audit1 = await get('/audit?limit=2');
    const a1 = (await audit1.json()) as { id: number }[];
    assert.equal(a1.length, 2);
    const before = audit1.headers.get(NEXT_HEADER);
    assert.equal(before, String(a1[1]!.id));
    const a2 = (await (await get(`/audit?limit=2&before=${before}`)).json()) as { id: number }[];
    assert.ok(a2.length > 0 && a2.every((r) => r.id < a1[1]!.id));

    // The CLI's client reads every page: its output does not change.
    assert.deepEqual(
      (await new ApiClient(server.url, token).hosts()).map((h) => h.name),
      ['h1', 'h2', 'h3'],
    );
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
