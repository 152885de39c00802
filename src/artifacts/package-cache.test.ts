import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactStore } from './store.js';
import { PackageCache } from './package-cache.js';

async function withStore(
  fn: (store: ArtifactStore, put: (bytes: number, fill: number) => Promise<string>) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'noops-pkgcache-'));
  try {
    const store = new ArtifactStore(join(dir, 'store'));
    let n = 0;
    await fn(store, async (bytes, fill) => {
      const file = join(dir, `f${n++}`);
      writeFileSync(file, Buffer.alloc(bytes, fill));
      return (await store.put(file)).sha256;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a package is read once and served from memory after', async () => {
  await withStore(async (store, put) => {
    const sha = await put(1000, 1);
    const cache = new PackageCache(store, 10_000);
    const [a, b] = await Promise.all([cache.get(sha), cache.get(sha)]);
    assert.equal(a, b, 'two concurrent requests share one read');
    assert.equal(await cache.get(sha), a);
    assert.deepEqual(a, Buffer.alloc(1000, 1));
    assert.equal(cache.size, 1000);
  });
});

test('the least recently used package leaves when memory is full; a large one is not held', async () => {
  await withStore(async (store, put) => {
    const [x, y, z, big] = [await put(400, 1), await put(400, 2), await put(400, 3), await put(600, 4)];
    const cache = new PackageCache(store, 1000);
    const first = await cache.get(x);
    await cache.get(y);
    await cache.get(x); // y is now the least recent
    await cache.get(z); // 1200 > 1000: y leaves
    assert.equal(cache.size, 800);
    assert.equal(await cache.get(x), first, 'x stayed');
    assert.equal(await cache.get(big), undefined, 'over half the cache: streamed from disk instead');
    assert.equal(cache.size, 800);
  });
});
