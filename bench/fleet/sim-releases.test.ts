import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { MemoryReleases } from './sim-releases.js';

const bytes = Buffer.from('a package');
const sha = createHash('sha256').update(bytes).digest('hex');
const opts = (version: string, sha256 = sha) => ({
  root: '/nowhere',
  tag: 't',
  version,
  sha256,
  download: async (dest: string | Writable) => {
    assert.notEqual(typeof dest, 'string', 'a simulated host downloads into a stream, never a file');
    await new Promise<void>((resolve, reject) => (dest as Writable).end(bytes, () => resolve()).once('error', reject));
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
