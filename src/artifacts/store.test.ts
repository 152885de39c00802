import { mock, test } from 'node:test';
import fsPromises from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { ArtifactStore } from './store.js';
import { sha256File } from './sha256.js';

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

async function withStore(fn: (store: ArtifactStore, tmp: string) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'noops-artifacts-'));
  try {
    await fn(new ArtifactStore(join(tmp, 'store')), tmp);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

test('put stores a file under its sha256, read-only, and open/has/verify find it', () =>
  withStore(async (store, tmp) => {
    const src = join(tmp, 'release.tar.gz');
    const content = Buffer.from('hello release\n'.repeat(10_000));
    await writeFile(src, content);
    const { sha256, size } = await store.put(src);
    assert.equal(sha256, sha(content));
    assert.equal(size, content.length);
    assert.equal(store.path(sha256), join(store.dir, sha256.slice(0, 2), sha256));
    assert.equal((await stat(store.path(sha256))).mode & 0o777, 0o444);
    assert.equal(await store.has(sha256), true);
    assert.equal(await store.verify(sha256), true);
    assert.equal(await sha256File(store.path(sha256)), sha256);
    assert.equal(await text(await store.open(sha256)), content.toString());
    assert.deepEqual(await readdir(join(store.dir, '.tmp')), []); // no temporary file left
  }));

test('putting the same content twice keeps the first file', () =>
  withStore(async (store) => {
    const a = await store.putStream(Readable.from([Buffer.from('same')]));
    const before = await stat(store.path(a.sha256));
    const b = await store.putStream(Readable.from([Buffer.from('sa'), Buffer.from('me')]));
    assert.deepEqual(a, b);
    assert.equal((await stat(store.path(a.sha256))).ino, before.ino);
    assert.deepEqual(await readdir(join(store.dir, '.tmp')), []);
  }));

test('an empty stream is stored too', () =>
  withStore(async (store) => {
    const { sha256, size } = await store.putStream(Readable.from([]));
    assert.equal(sha256, sha(''));
    assert.equal(size, 0);
    assert.equal(await store.verify(sha256), true);
  }));

test('verify is false for a damaged or a missing artifact', () =>
  withStore(async (store) => {
    const { sha256 } = await store.putStream(Readable.from([Buffer.from('intact')]));
    await chmod(store.path(sha256), 0o644);
    await writeFile(store.path(sha256), 'damaged');
    assert.equal(await store.verify(sha256), false);
    assert.equal(await store.verify(sha('never stored')), false);
    assert.equal(await store.has(sha('never stored')), false);
  }));

test('a stream that fails leaves nothing behind', () =>
  withStore(async (store) => {
    const failing = new Readable({
      read() {
        this.push(Buffer.from('part'));
        this.destroy(new Error('connection reset'));
      },
    });
    await assert.rejects(store.putStream(failing), /connection reset/);
    assert.deepEqual(await readdir(join(store.dir, '.tmp')), []);
    assert.deepEqual((await readdir(store.dir)).sort(), ['.tmp']);
  }));

test('open of a missing artifact is NOOPS_E_NOT_FOUND', () =>
  withStore(async (store) => {
    await assert.rejects(store.open(sha('missing')), { code: 'NOOPS_E_NOT_FOUND' });
  }));

test('a sha256 argument that is not 64 lower-case hex is refused before any path is built', () =>
  withStore(async (store) => {
    const bad = ['../../etc/passwd', 'A'.repeat(64), 'a'.repeat(63), `${'a'.repeat(64)}/x`, '', `${'a'.repeat(64)}\n`];
    for (const value of bad) {
      assert.throws(() => store.path(value), { code: 'NOOPS_E_INPUT' });
      await assert.rejects(store.has(value), { code: 'NOOPS_E_INPUT' });
      await assert.rejects(store.open(value), { code: 'NOOPS_E_INPUT' });
      await assert.rejects(store.verify(value), { code: 'NOOPS_E_INPUT' });
    }
    assert.equal(await readFile(join(store.dir, 'x')).catch(() => 'absent'), 'absent');
  }));

test('has is answered from memory once an artifact was found: asking again makes no stat', () =>
  withStore(async (store) => {
    const { sha256 } = await store.putStream(Readable.from([Buffer.from('kept')]));
    const fresh = new ArtifactStore(store.dir); // knows nothing yet
    const stats = mock.method(fsPromises, 'stat');
    syncBuiltinESMExports(); // the store's named import sees the counting stat
    try {
      for (let i = 0; i < 5; i++) assert.equal(await fresh.has(sha256), true);
      assert.equal(stats.mock.callCount(), 1, 'one stat, then memory');
    } finally {
      stats.mock.restore();
      syncBuiltinESMExports();
    }
  }));

test('an artifact removed by hand is not claimed present once a read found it gone; put stores it again', () =>
  withStore(async (store) => {
    const content = Buffer.from('removed by hand');
    const { sha256, size } = await store.putStream(Readable.from([content]));
    assert.equal(await store.has(sha256), true);
    await rm(store.path(sha256));
    assert.equal(await store.has(sha256), true, 'not looked at yet: remembered');
    await assert.rejects(store.open(sha256), { code: 'NOOPS_E_NOT_FOUND' });
    assert.equal(await store.has(sha256), false, 'the failed open forgot it');
    assert.deepEqual(await store.putStream(Readable.from([content])), { sha256, size });
    assert.equal(await store.size(sha256), size, 'stored again, not skipped as "already there"');
    await rm(store.path(sha256));
    await assert.rejects(store.size(sha256), { code: 'NOOPS_E_NOT_FOUND' });
    assert.equal(await store.has(sha256), false, 'size forgot it too');
    await store.putStream(Readable.from([content]));
    assert.equal(await store.has(sha256), true);
    await rm(store.path(sha256));
    assert.equal(await store.verify(sha256), false, 'verify finds it gone');
    assert.equal(await store.has(sha256), false);
  }));
