import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { PieceDest } from '../../src/swarm/index.js';
import { MemoryReleases, SharedPackages } from './sim-releases.js';

const bytes = Buffer.from('a package');
const sha = createHash('sha256').update(bytes).digest('hex');
const opts = (version: string, sha256 = sha) => ({
  root: '/nowhere',
  tag: 't',
  version,
  sha256,
  download: async (dest: string | Writable | PieceDest) => {
    assert.notEqual(typeof dest, 'string', 'a simulated host downloads into memory, never a file');
    const stream = (dest as PieceDest).stream();
    await new Promise<void>((resolve, reject) => stream.end(bytes, () => resolve()).once('error', reject));
  },
});

test('a release is downloaded and verified once, then on "disk"; activate needs it installed', async () => {
  const meter = { bytes: 0, downloads: 0 };
  const r = new MemoryReleases(meter);
  assert.throws(() => r.activate('/', 't', 'v1'), /not installed/);
  assert.deepEqual(await r.install(opts('v1')), { downloaded: true });
  assert.deepEqual(await r.install(opts('v1')), { downloaded: false });
  assert.deepEqual(meter, { bytes: bytes.length, downloads: 1 });
  r.activate('/', 't', 'v1');
  assert.equal(r.current.get('t'), 'v1');
});

test('a package whose sha256 differs is refused and not kept', async () => {
  const r = new MemoryReleases();
  await assert.rejects(r.install(opts('v2', 'f'.repeat(64))), /sha256/);
  assert.equal(r.installed.get('t')?.has('v2') ?? false, false);
});

test('prune keeps the newest, the protected and the current', async () => {
  const r = new MemoryReleases();
  for (const v of ['v1', 'v2', 'v3', 'v4', 'v5']) await r.install(opts(v));
  r.activate('/', 't', 'v1');
  await r.prune('/', 't', 1, ['v3']);
  assert.deepEqual([...r.installed.get('t')!.keys()], ['v1', 'v3', 'v5']);
});

test('pieces go into one buffer per process, and every host that fetched them counts its bytes', async () => {
  const meter = { bytes: 0, downloads: 0 };
  const shared = new SharedPackages();
  const hosts = [new MemoryReleases(meter, shared), new MemoryReleases(meter, shared)];
  for (const h of hosts) {
    await h.install({
      ...opts('v1'),
      download: async (dest: string | Writable | PieceDest) => {
        const store = await (dest as PieceDest).open(bytes.length);
        await store.writeAt(4, bytes.subarray(4)); // out of order, as pieces come
        await store.writeAt(0, bytes.subarray(0, 4));
        assert.deepEqual(await store.readAt(2, 4), bytes.subarray(2, 6));
      },
    });
  }
  assert.deepEqual(meter, { bytes: 2 * bytes.length, downloads: 2 });
  assert.equal(shared.digest(sha), sha);
});

test('pieces that do not make the package are refused', async () => {
  const r = new MemoryReleases(undefined, new SharedPackages());
  const download = async (dest: string | Writable | PieceDest): Promise<void> => {
    const store = await (dest as PieceDest).open(bytes.length);
    await store.writeAt(0, Buffer.alloc(bytes.length, 1));
  };
  await assert.rejects(r.install({ ...opts('v1'), download }), /sha256/);
  assert.equal(r.installed.get('t')?.has('v1') ?? false, false);
});

test('a package fetched ahead (prefetch) is checked then, and its install downloads nothing more', async () => {
  const meter = { bytes: 0, downloads: 0 };
  const r = new MemoryReleases(meter);
  await r.prefetch('/nowhere', sha, opts('v1').download);
  await r.prefetch('/nowhere', sha, opts('v1').download);
  assert.deepEqual(meter, { bytes: bytes.length, downloads: 1 }, 'once');
  assert.equal(r.installed.get('t')?.has('v1') ?? false, false, 'nothing installed');
  assert.deepEqual(await r.install(opts('v1')), { downloaded: true }, 'downloaded (ahead), as the rollout is told');
  assert.deepEqual(meter, { bytes: bytes.length, downloads: 1 });
  await assert.rejects(r.prefetch('/nowhere', 'f'.repeat(64), opts('v2').download), /sha256/);
  assert.deepEqual(
    await r.install(opts('v2', 'f'.repeat(64))).catch((e: Error) => e.message),
    `the downloaded package has sha256 ${sha}, expected ${'f'.repeat(64)}`,
    'a refused package is not in the cache',
  );
});

test('a piece another host of the process wrote is not copied again: the first checked bytes stand', async () => {
  const shared = new SharedPackages();
  const write = (piece: Buffer) => async (dest: string | Writable | PieceDest) => {
    const store = await (dest as PieceDest).open(bytes.length);
    await store.writeAt(0, piece);
  };
  await new MemoryReleases(undefined, shared).install({ ...opts('v1'), download: write(bytes) });
  const scratch = Buffer.from(bytes);
  const second = new MemoryReleases(undefined, shared).install({ ...opts('v1'), download: write(scratch) });
  scratch.fill(0); // the agent's piece buffer goes back to its pool and is reused at once
  assert.deepEqual(await second, { downloaded: true });
  assert.deepEqual(shared.buffer(sha, bytes.length).bytes, bytes);
});
