/** Multi-row statements come in a few sizes: the rows kept in order, in-lists the same set. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { BATCH_ROWS, chunks, inChunks } from './batch.js';
import { openStore } from './open.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

test('chunks: every row once, in order, in at most log2(size) + 2 distinct sizes over every count', () => {
  const sizes = new Set<number>();
  for (let n = 0; n <= 1200; n++) {
    const parts = chunks(range(n));
    assert.deepEqual(parts.flat(), range(n), `${n} rows`);
    for (const p of parts) {
      assert.ok(p.length > 0 && p.length <= BATCH_ROWS);
      sizes.add(p.length);
    }
  }
  assert.deepEqual(
    [...sizes].sort((a, b) => a - b),
    [1, 2, 4, 8, 16, 32, 64, 128, 256, BATCH_ROWS],
  );
  assert.deepEqual(chunks([1, 2, 3, 4, 5, 6, 7], 4), [[1, 2, 3, 4], [5, 6], [7]]);
});

test('inChunks: the same set, one part per size items, each part a power of two long or the size', () => {
  const sizes = new Set<number>();
  for (let n = 0; n <= 1200; n++) {
    const parts = inChunks(range(n));
    assert.equal(parts.length, Math.ceil(n / BATCH_ROWS), `${n} items`);
    assert.deepEqual([...new Set(parts.flat())], range(n));
    for (const p of parts) sizes.add(p.length);
  }
  assert.deepEqual(
    [...sizes].sort((a, b) => a - b),
    [1, 2, 4, 8, 16, 32, 64, 128, 256, BATCH_ROWS],
  );
  assert.deepEqual(inChunks(['a', 'b', 'c']), [['a', 'b', 'c', 'c']]);
});

test('the store prepares a few texts for many sizes of a batch read (SQLite)', async () => {
  const store = await openStore('sqlite::memory:');
  const texts = new Set<string>();
  const seen = (m: unknown) => {
    const { sql } = m as { sql: string };
    if (sql.includes('desired_generation')) texts.add(sql);
  };
  subscribe('noops:store:statement', seen);
  try {
    const hosts = range(300).map((i) => `h${i}`);
    for (let n = 1; n <= hosts.length; n++) assert.equal((await store.getDesiredMany(hosts.slice(0, n))).size, n);
    // 300 sizes asked, 1 to 300 hosts: 1, 2, 4 ... 256, 500 in-lists
    assert.ok(texts.size <= 10, `${texts.size} texts`);
  } finally {
    unsubscribe('noops:store:statement', seen);
    await store.close();
  }
});
