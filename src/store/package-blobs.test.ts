/**
 * Packages in the database (0015_package_blobs): chunking, whole-or-nothing writes, streamed
 * reads. On SQLite in a temp folder, and on PostgreSQL (a fresh database of its own, dropped at
 * the end) when NOOPS_TEST_PG_URL is set.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from './open.js';
import { PACKAGE_CHUNK_BYTES, rechunk } from './package-blobs.js';
import type { Store } from './types.js';
import { NEEDS_PG, testDatabase, type TestDatabase } from './test-pg.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-package-blobs-'));
let db: TestDatabase | undefined;
const stores: Store[] = [];

after(async () => {
  for (const s of stores) await s.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return out;
}

/** `bytes` as an async stream of pieces of `piece` bytes. */
async function* piecesOf(bytes: Buffer, piece: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += piece) yield bytes.subarray(i, i + piece);
}

describe('rechunk', () => {
  it('cuts pieces of any size into chunks of exactly the size, the last shorter', async () => {
    const bytes = randomBytes(10_000);
    for (const piece of [1, 7, 999, 1000, 1001, 4096, 10_000, 20_000]) {
      const chunks = await collect(rechunk(piecesOf(bytes, piece), 1000));
      assert.deepEqual(
        chunks.map((c) => c.length),
        Array(10).fill(1000),
        `pieces of ${piece}`,
      );
      assert.deepEqual(Buffer.concat(chunks), bytes);
    }
    assert.deepEqual(
      (await collect(rechunk(piecesOf(randomBytes(2500), 300), 1000))).map((c) => c.length),
      [1000, 1000, 500],
    );
    assert.deepEqual(await collect(rechunk(piecesOf(Buffer.alloc(0), 1), 1000)), []);
  });
});

const backends: { name: string; skip: string | false; url: () => Promise<string> }[] = [
  { name: 'sqlite', skip: false, url: async () => `sqlite:${join(dir, `t${randomBytes(4).toString('hex')}.db`)}` },
  {
    name: 'postgres',
    skip: NEEDS_PG,
    url: async () => {
      const made = (db ??= await testDatabase('noops_blobs_store'));
      return made.url;
    },
  },
];

for (const backend of backends) {
  describe(`package blobs on ${backend.name}`, { skip: backend.skip }, () => {
    const open = async (): Promise<Store> => {
      const s = await openStore(await backend.url());
      stores.push(s);
      return s;
    };

    it('a package is written in chunks and read back byte for byte; a second put reads nothing', async () => {
      const store = await open();
      const bytes = randomBytes(2 * PACKAGE_CHUNK_BYTES + 12_345);
      const id = sha(bytes);
      assert.equal(await store.readPackageBlob(id), undefined);
      assert.equal(await store.putPackageBlob(id, bytes.length, () => piecesOf(bytes, 65_536)), true);
      const chunks = await collect((await store.readPackageBlob(id))!);
      assert.deepEqual(
        chunks.map((c) => c.length),
        [PACKAGE_CHUNK_BYTES, PACKAGE_CHUNK_BYTES, 12_345],
      );
      assert.equal(sha(Buffer.concat(chunks)), id);
      let read = false;
      const again = await store.putPackageBlob(id, bytes.length, () => {
        read = true;
        return piecesOf(bytes, 65_536);
      });
      assert.equal(again, false);
      assert.equal(read, false);
    });

    it('an empty package is a header and no chunks', async () => {
      const store = await open();
      const id = sha(Buffer.alloc(0));
      assert.equal(await store.putPackageBlob(id, 0, () => piecesOf(Buffer.alloc(0), 1)), true);
      assert.deepEqual(await collect((await store.readPackageBlob(id))!), []);
    });

    it('a write that fails half way leaves nothing: no header, no chunks, and it can be written again', async () => {
      const store = await open();
      const bytes = randomBytes(3 * PACKAGE_CHUNK_BYTES);
      const id = sha(bytes);
      async function* broken(): AsyncGenerator<Buffer> {
        yield bytes.subarray(0, 2 * PACKAGE_CHUNK_BYTES);
        throw new Error('the file went away');
      }
      await assert.rejects(store.putPackageBlob(id, bytes.length, broken), /the file went away/);
      assert.equal(await store.readPackageBlob(id), undefined);
      // content shorter than its size is refused the same way
      await assert.rejects(
        store.putPackageBlob(id, bytes.length + 1, () => piecesOf(bytes, 65_536)),
        {
          code: 'NOOPS_E_SHA256_MISMATCH',
        },
      );
      assert.equal(await store.readPackageBlob(id), undefined);
      assert.equal(await store.putPackageBlob(id, bytes.length, () => piecesOf(bytes, 65_536)), true);
      assert.equal(sha(Buffer.concat(await collect((await store.readPackageBlob(id))!))), id);
    });
  });
}

describe('package blobs on postgres, two servers', { skip: NEEDS_PG }, () => {
  it('two servers sharing one package at once: one writes it, the other finds it there, and no reader sees part of it', async () => {
    const url = await backends[1]!.url();
    const [a, b] = [await openStore(url), await openStore(url)];
    stores.push(a, b);
    const bytes = randomBytes(4 * PACKAGE_CHUNK_BYTES);
    const id = sha(bytes);
    let released!: () => void;
    const gate = new Promise<void>((r) => (released = r));
    let halfway!: () => void;
    const atHalf = new Promise<void>((r) => (halfway = r));
    async function* slow(): AsyncGenerator<Buffer> {
      yield bytes.subarray(0, PACKAGE_CHUNK_BYTES);
      halfway(); // asked for more: the header and the first chunk are written
      await gate; // A holds its transaction open half way
      yield bytes.subarray(PACKAGE_CHUNK_BYTES);
    }
    const byA = a.putPackageBlob(id, bytes.length, slow);
    await atHalf;
    // while A writes, a reader finds nothing (not half a package)
    assert.equal(await b.readPackageBlob(id), undefined);
    const byB = b.putPackageBlob(id, bytes.length, () => piecesOf(bytes, 65_536));
    released();
    const answers = await Promise.all([byA, byB]);
    assert.deepEqual(answers.sort(), [false, true]);
    assert.equal(sha(Buffer.concat(await collect((await b.readPackageBlob(id))!))), id);
  });
});
