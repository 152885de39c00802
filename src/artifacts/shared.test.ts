import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { ArtifactStore } from './store.js';
import { MemorySharedArtifacts, type SharedArtifacts } from './shared.js';

const sha = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

/** Two servers' stores (two folders) on one set of shared artifacts. */
async function withTwo(
  fn: (a: ArtifactStore, b: ArtifactStore, shared: MemorySharedArtifacts) => Promise<void>,
  shared = new MemorySharedArtifacts(),
): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'noops-shared-'));
  try {
    await fn(new ArtifactStore(join(tmp, 'a'), shared), new ArtifactStore(join(tmp, 'b'), shared), shared);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

test('what one store puts is shared before put returns, and the other fetches it on a miss', () =>
  withTwo(async (a, b, shared) => {
    const content = Buffer.from('a release\n'.repeat(5000));
    const { sha256 } = await a.putStream(Readable.from([content]));
    assert.deepEqual(shared.copies.get(sha256), content);
    assert.equal(await b.hasHere(sha256), false);
    assert.equal(await b.has(sha256), true);
    assert.deepEqual(await readFile(b.path(sha256)), content, "the copy is in B's own folder");
    assert.equal(await b.verify(sha256), true);
    assert.equal(await text(await b.open(sha256)), content.toString());
    assert.equal(shared.fetches.get(sha256), 1, 'fetched once, then served from the folder');
    assert.deepEqual(await readdir(join(b.dir, '.tmp')), []);
  }));

test('open and localPath fetch on a miss too; an artifact no server has is NOOPS_E_NOT_FOUND', () =>
  withTwo(async (a, b) => {
    const { sha256 } = await a.putStream(Readable.from([Buffer.from('opened')]));
    assert.equal(await text(await b.open(sha256)), 'opened');
    const other = (await a.putStream(Readable.from([Buffer.from('by path')]))).sha256;
    assert.equal(await readFile(await b.localPath(other), 'utf8'), 'by path');
    await assert.rejects(b.open(sha('nowhere')), { code: 'NOOPS_E_NOT_FOUND' });
    await assert.rejects(b.localPath(sha('nowhere')), { code: 'NOOPS_E_NOT_FOUND' });
    assert.equal(await b.has(sha('nowhere')), false);
    assert.equal(await b.verify(sha('nowhere')), false);
  }));

test('concurrent misses of one artifact fetch it once', () =>
  withTwo(async (a, b, shared) => {
    const content = Buffer.alloc(3 * 1024 * 1024, 7);
    const { sha256 } = await a.putStream(Readable.from([content]));
    const answers = await Promise.all([b.has(sha256), b.has(sha256), b.open(sha256).then(text), b.verify(sha256), b.has(sha256)]);
    assert.deepEqual(answers, [true, true, content.toString(), true, true]);
    assert.equal(shared.fetches.get(sha256), 1);
  }));

test('a shared copy whose content does not match its sha256 is refused, and nothing is kept', () =>
  withTwo(async (_a, b, shared) => {
    const claimed = sha('the real package');
    shared.copies.set(claimed, Buffer.from('something else'));
    await assert.rejects(b.has(claimed), { code: 'NOOPS_E_SHA256_MISMATCH' });
    await assert.rejects(b.open(claimed), { code: 'NOOPS_E_SHA256_MISMATCH' });
    assert.equal(await b.hasHere(claimed), false);
    assert.deepEqual(await readdir(join(b.dir, '.tmp')), []);
    assert.deepEqual((await readdir(b.dir)).sort(), ['.tmp'], 'no artifact file was written');
  }));

test('putting content that is here already shares it again (the shared side answers whether it was new)', () =>
  withTwo(async (a, _b, shared) => {
    const { sha256 } = await a.putStream(Readable.from([Buffer.from('twice')]));
    shared.copies.delete(sha256); // a server that stored it before it had company
    await a.putStream(Readable.from([Buffer.from('twice')]));
    assert.deepEqual(shared.copies.get(sha256), Buffer.from('twice'));
  }));

test('shareAll shares every artifact of the folder the shared copies lack', () =>
  withTwo(async (a) => {
    const alone = new MemorySharedArtifacts();
    const before = new ArtifactStore(a.dir); // the same folder, when the server was alone
    const x = await before.putStream(Readable.from([Buffer.from('x')]));
    const y = await before.putStream(Readable.from([Buffer.from('y')]));
    const later = new ArtifactStore(a.dir, alone);
    assert.deepEqual(await later.list(), [x.sha256, y.sha256].sort());
    assert.equal(await later.shareAll(), 2);
    assert.equal(await later.shareAll(), 0, 'shared already');
    assert.deepEqual(alone.copies.get(x.sha256), Buffer.from('x'));
  }));

test('a failing share fails the put (the release is not recorded), and the local copy stays for the next try', () =>
  withTwo(async (a) => {
    const down: SharedArtifacts = {
      share: async () => {
        throw new Error('database unreachable');
      },
      fetch: async () => undefined,
    };
    const store = new ArtifactStore(a.dir, down);
    await assert.rejects(store.putStream(Readable.from([Buffer.from('p')])), /database unreachable/);
    assert.equal(await store.hasHere(sha('p')), true);
  }));

test('a copy removed by hand from one folder is fetched again from the shared copies on the next read', () =>
  withTwo(async (a, b, shared) => {
    const content = Buffer.from('removed here, kept there');
    const { sha256, size } = await a.putStream(Readable.from([content]));
    assert.equal(await b.has(sha256), true);
    await rm(b.path(sha256));
    assert.equal(await b.size(sha256), size, 'fetched again');
    assert.deepEqual(await readFile(b.path(sha256)), content);
    assert.equal(shared.fetches.get(sha256), 2);
  }));
