import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { create, Header } from 'tar';
import { checkEntries, ensureShared, installRelease, pruneReleases, readCurrent, switchCurrent } from './install.js';

const TAG = 'cop.xiaomi_owt.miliao_pdl.im_service.ack_job.api_cluster.production-sd';
let base: string;
let n = 0;
before(() => {
  base = mkdtempSync(join(tmpdir(), 'noops-install-'));
});
after(() => rmSync(base, { recursive: true, force: true }));

/** A fresh agent root, and an "outside" folder with a file that must survive every test. */
function fresh(): { root: string; outside: string } {
  n++;
  const root = join(base, `root${n}`);
  const outside = join(base, `outside${n}`);
  mkdirSync(root, { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(outside, 'secret'), 'secret\n');
  return { root, outside };
}

const sha = (buf: Buffer): string => createHash('sha256').update(buf).digest('hex');

/** A good package, made by tar from real files. */
async function goodPackage(extra: Record<string, string> = {}): Promise<Buffer> {
  n++;
  const src = join(base, `src${n}`);
  mkdirSync(join(src, 'bin'), { recursive: true });
  writeFileSync(join(src, 'manifest.json'), JSON.stringify({ schema: 1, job: TAG, version: 'x', processes: [] }));
  writeFileSync(join(src, 'bin', 'run.sh'), `#!/bin/sh\necho ${n}\n`, { mode: 0o755 });
  for (const [name, body] of Object.entries(extra)) writeFileSync(join(src, name), body);
  const file = join(base, `pkg${n}.tar.gz`);
  await create({ gzip: true, cwd: src, file, portable: true }, ['.']);
  return readFileSync(file);
}

interface Raw {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO' | 'CharacterDevice';
  linkpath?: string;
  body?: string;
  mode?: number;
}

/** A tar.gz written header by header, so hostile paths stay exactly as given. */
function rawPackage(entries: Raw[], withManifest = true): Buffer {
  const all: Raw[] = withManifest ? [{ path: 'manifest.json', body: '{"schema":1}' }, ...entries] : entries;
  const blocks: Buffer[] = [];
  for (const e of all) {
    const type = e.type ?? 'File';
    const body = Buffer.from(type === 'File' ? (e.body ?? '') : '');
    const header = new Header({
      path: e.path,
      type,
      linkpath: e.linkpath,
      size: body.length,
      mtime: new Date(),
      mode: e.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (body.length > 0) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** A download function serving `buf`, counting its calls. */
function server(buf: Buffer): { calls: number; download: (dest: string) => Promise<void> } {
  const s = {
    calls: 0,
    download: async (dest: string) => {
      s.calls++;
      writeFileSync(dest, buf);
    },
  };
  return s;
}

async function install(root: string, version: string, buf: Buffer, digest = sha(buf)) {
  const srv = server(buf);
  const result = await installRelease({ root, tag: TAG, version, sha256: digest, download: srv.download });
  return { ...result, calls: srv.calls };
}

const releasesOf = (root: string): string[] => readdirSync(join(root, 'jobs', TAG, 'releases')).sort();
const snapshot = (dir: string): string[] => readdirSync(dir, { recursive: true }).map(String).sort();

describe('installRelease', () => {
  test('installs a good package, switches current, and reuses it without a download', async () => {
    const { root } = fresh();
    const pkg = await goodPackage();
    const first = await install(root, 'aaaaaaa01', pkg);
    assert.equal(first.dir, join(root, 'jobs', TAG, 'releases', 'aaaaaaa01'));
    assert.deepEqual([first.downloaded, first.calls, first.replaced], [true, 1, false]);
    assert.ok(statSync(join(first.dir, 'bin', 'run.sh')).mode & 0o100, 'modes kept');
    const marker = JSON.parse(readFileSync(join(first.dir, '.noops-release.json'), 'utf8'));
    assert.equal(marker.sha256, sha(pkg));
    assert.ok(existsSync(join(root, 'cache', sha(pkg))));
    assert.equal(readCurrent(root, TAG), null);
    switchCurrent(root, TAG, 'aaaaaaa01');
    assert.equal(readCurrent(root, TAG), 'aaaaaaa01');
    assert.equal(readlinkSync(join(root, 'jobs', TAG, 'current')), 'releases/aaaaaaa01');

    const again = await install(root, 'aaaaaaa01', pkg);
    assert.deepEqual([again.downloaded, again.calls], [false, 0]);
    // Another job (cluster) with the same package installs from the cache.
    const other = await installRelease({
      root,
      tag: `${TAG}2`,
      version: 'aaaaaaa01',
      sha256: sha(pkg),
      download: async () => assert.fail('must come from the cache'),
    });
    assert.equal(other.downloaded, false);
    assert.deepEqual(releasesOf(root), ['aaaaaaa01']);
  });

  test('switchCurrent is atomic: a concurrent reader never sees current missing', async () => {
    const { root } = fresh();
    await install(root, 'aaaaaaa01', await goodPackage());
    await install(root, 'bbbbbbb02', await goodPackage());
    switchCurrent(root, TAG, 'aaaaaaa01');
    const current = join(root, 'jobs', TAG, 'current');
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `
      const fs = require('fs'); let seen = 0, missing = 0; const end = Date.now() + 600;
      while (Date.now() < end) { try { fs.readlinkSync(${JSON.stringify(current)}); seen++; } catch { missing++; } }
      console.log(JSON.stringify({ seen, missing }));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    reader.stdout!.on('data', (c) => (out += c));
    const done = new Promise((resolve) => reader.once('exit', resolve));
    let switches = 0;
    while (reader.exitCode === null && switches < 100_000) {
      switchCurrent(root, TAG, switches % 2 === 0 ? 'bbbbbbb02' : 'aaaaaaa01');
      switches++;
      if (switches % 200 === 0) await sleep(1);
    }
    await done;
    const { seen, missing } = JSON.parse(out) as { seen: number; missing: number };
    assert.ok(seen > 0 && switches > 100, `seen ${seen}, switches ${switches}`);
    assert.equal(missing, 0);
    assert.deepEqual(readdirSync(join(root, 'jobs', TAG)).sort(), ['current', 'releases']);
  });

  test('switchCurrent refuses a release that is not installed', () => {
    const { root } = fresh();
    assert.throws(() => switchCurrent(root, TAG, 'ccccccc03'), { code: 'NOOPS_E_NOT_FOUND' });
  });

  test('a sha256 mismatch throws, deletes the download, and changes nothing', async () => {
    const { root } = fresh();
    const good = await goodPackage();
    await install(root, 'aaaaaaa01', good);
    switchCurrent(root, TAG, 'aaaaaaa01');
    const bad = await goodPackage();
    const expected = 'f'.repeat(64);
    await assert.rejects(install(root, 'bbbbbbb02', bad, expected), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'NOOPS_E_SHA256_MISMATCH');
      assert.match(err.message, new RegExp(`${sha(bad)}.*${expected}`));
      return true;
    });
    assert.equal(readCurrent(root, TAG), 'aaaaaaa01');
    assert.deepEqual(releasesOf(root), ['aaaaaaa01']);
    assert.deepEqual(readdirSync(join(root, 'cache')), [sha(good)], 'the bad download is gone');
  });

  test('a package without manifest.json at the top is invalid', async () => {
    const { root } = fresh();
    const pkg = rawPackage([{ path: 'app/manifest.json', body: '{}' }], false);
    await assert.rejects(install(root, 'aaaaaaa01', pkg), { code: 'NOOPS_E_PACKAGE_INVALID' });
    assert.deepEqual(releasesOf(root), []);
  });

  test('bad tags and versions never become paths', async () => {
    const { root } = fresh();
    const pkg = await goodPackage();
    for (const tag of ['..', '.hidden', 'a/b', '', 'a b']) {
      await assert.rejects(installRelease({ root, tag, version: 'aaaaaaa01', sha256: sha(pkg), download: server(pkg).download }), {
        code: 'NOOPS_E_TAG_INVALID',
      });
    }
    for (const version of ['../aaaaaaa', 'AAAAAAA01', 'abc']) {
      await assert.rejects(install(root, version, pkg), { code: 'NOOPS_E_INPUT' });
    }
  });

  test('symlinks and hard links inside the package are fine', async () => {
    const { root } = fresh();
    const pkg = rawPackage([
      { path: 'lib/', type: 'Directory' },
      { path: 'lib/run.sh', body: 'echo hi\n' },
      { path: 'run', type: 'SymbolicLink', linkpath: 'lib/run.sh' },
      { path: 'lib/self', type: 'SymbolicLink', linkpath: '../lib' },
      { path: 'run2', type: 'Link', linkpath: 'lib/run.sh' },
    ]);
    const { dir } = await install(root, 'aaaaaaa01', pkg);
    assert.equal(readFileSync(join(dir, 'run'), 'utf8'), 'echo hi\n');
    assert.equal(lstatSync(join(dir, 'run2')).nlink, 2);
  });

  test('setuid and setgid bits are cleared', async () => {
    const { root } = fresh();
    const { dir } = await install(root, 'aaaaaaa01', rawPackage([{ path: 'su', body: 'x', mode: 0o6755 }]));
    assert.equal(statSync(join(dir, 'su')).mode & 0o7777, 0o755);
  });

  test('concurrent installs of one release both succeed, into one folder', async () => {
    const { root } = fresh();
    const pkg = await goodPackage();
    const [a, b] = await Promise.all([install(root, 'aaaaaaa01', pkg), install(root, 'aaaaaaa01', pkg)]);
    assert.equal(a.dir, b.dir);
    assert.deepEqual(releasesOf(root), ['aaaaaaa01']);
  });

  test('a rebuild of the same version (another sha) replaces the folder, moving the old aside', async () => {
    const { root } = fresh();
    await install(root, 'aaaaaaa01', await goodPackage({ which: 'one' }));
    switchCurrent(root, TAG, 'aaaaaaa01');
    const second = await install(root, 'aaaaaaa01', await goodPackage({ which: 'two' }));
    assert.equal(second.replaced, true);
    assert.equal(readFileSync(join(second.dir, 'which'), 'utf8'), 'two');
    const names = releasesOf(root);
    assert.equal(names.length, 2);
    assert.match(names[0]!, /^\.old-aaaaaaa01-/);
    assert.equal(readCurrent(root, TAG), 'aaaaaaa01');
  });
});

describe('hostile packages are refused whole', () => {
  const cases: [string, (outside: string) => Raw[], RegExp][] = [
    ['a ../ path', () => [{ path: '../evil', body: 'x' }], /"\.\.\/evil".*"\.\."/],
    ['a deep ../ path', () => [{ path: 'a/../../../evil', body: 'x' }], /"a\/\.\.\/\.\.\/\.\.\/evil"/],
    ['an absolute path into /etc', () => [{ path: '/etc/noops-evil', body: 'x' }], /"\/etc\/noops-evil".*absolute/],
    ['an absolute path outside', (o) => [{ path: `${o}/evil`, body: 'x' }], /absolute/],
    [
      'a symlink to /etc, then a file through it',
      () => [
        { path: 'etc', type: 'SymbolicLink', linkpath: '/etc' },
        { path: 'etc/noops-evil', body: 'x' },
      ],
      /"etc\/noops-evil" would be written through the symlink "etc"/,
    ],
    [
      'a relative symlink out, then a file through it',
      (o) => [
        { path: 'out', type: 'SymbolicLink', linkpath: `../../../../../..${o}` },
        { path: 'out/evil', body: 'x' },
      ],
      /through the symlink "out"/,
    ],
    ['a symlink out alone', () => [{ path: 'up', type: 'SymbolicLink', linkpath: '../../..' }], /symlink "up".*outside/],
    [
      'a symlink that escapes through another symlink',
      () => [
        { path: 'a/', type: 'Directory' },
        { path: 'a/b', type: 'SymbolicLink', linkpath: '..' },
        { path: 'c', type: 'SymbolicLink', linkpath: 'a/b/..' },
      ],
      /symlink "c".*outside/,
    ],
    [
      'a symlink loop',
      () => [
        { path: 'x', type: 'SymbolicLink', linkpath: 'y' },
        { path: 'y', type: 'SymbolicLink', linkpath: 'x' },
      ],
      /loops/,
    ],
    ['a hard link to an absolute path', (o) => [{ path: 'hl', type: 'Link', linkpath: `${o}/secret` }], /hard link "hl".*absolute/],
    ['a hard link with ../', () => [{ path: 'hl', type: 'Link', linkpath: '../../../../outside/secret' }], /hard link "hl".*"\.\."/],
    [
      'a hard link through a symlink',
      () => [
        { path: 'etc', type: 'SymbolicLink', linkpath: '/etc' },
        { path: 'hl', type: 'Link', linkpath: 'etc/passwd' },
      ],
      /hard link "hl" goes through the symlink "etc"/,
    ],
    ['a fifo', () => [{ path: 'pipe', type: 'FIFO' }], /"pipe" is a FIFO/],
    ['a character device', () => [{ path: 'null', type: 'CharacterDevice' }], /"null" is a CharacterDevice/],
    [
      'a duplicate that would replace a file with a symlink',
      () => [
        { path: 'f', body: 'x' },
        { path: 'f', type: 'SymbolicLink', linkpath: 'manifest.json' },
      ],
      /"f" appears twice/,
    ],
  ];
  for (const [name, entries, message] of cases) {
    test(name, async () => {
      const { root, outside } = fresh();
      await install(root, 'aaaaaaa01', await goodPackage());
      switchCurrent(root, TAG, 'aaaaaaa01');
      const outsideBefore = snapshot(outside);
      const jobBefore = snapshot(join(root, 'jobs'));
      await assert.rejects(install(root, 'bbbbbbb02', rawPackage(entries(outside))), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'NOOPS_E_PACKAGE_UNSAFE');
        assert.match(err.message, message);
        return true;
      });
      assert.equal(readCurrent(root, TAG), 'aaaaaaa01');
      assert.deepEqual(snapshot(join(root, 'jobs')), jobBefore, 'no temp folder, nothing new');
      assert.deepEqual(snapshot(outside), outsideBefore);
      assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'secret\n');
      assert.ok(!existsSync('/etc/noops-evil'));
      assert.ok(!existsSync(join(root, 'jobs', TAG, 'evil')) && !existsSync(join(root, 'jobs', 'evil')));
    });
  }

  test('checkEntries allows "./" and plain entries', () => {
    checkEntries([
      { path: './', type: 'Directory' },
      { path: './manifest.json', type: 'File' },
      { path: 'a/', type: 'Directory' },
      { path: 'a/', type: 'Directory' },
      { path: 'a/l', type: 'SymbolicLink', linkpath: '../manifest.json' },
    ]);
  });
});

describe('pruneReleases and ensureShared', () => {
  test('keeps the newest 5 plus current, and the packages they came from', async () => {
    const { root } = fresh();
    const shas: string[] = [];
    for (let i = 1; i <= 7; i++) {
      const pkg = await goodPackage();
      shas.push(sha(pkg));
      await install(root, `aaaaaaa0${i}`, pkg);
      await sleep(3); // distinct install times
    }
    switchCurrent(root, TAG, 'aaaaaaa01');
    // Age the cache past its grace, so that only references protect a package.
    const old = new Date(Date.now() - 3_600_000);
    for (const f of readdirSync(join(root, 'cache'))) utimesSync(join(root, 'cache', f), old, old);

    const result = await pruneReleases(root, TAG, 5, []);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.removed, ['aaaaaaa02']);
    assert.deepEqual(releasesOf(root), ['aaaaaaa01', 'aaaaaaa03', 'aaaaaaa04', 'aaaaaaa05', 'aaaaaaa06', 'aaaaaaa07']);
    assert.deepEqual(result.cacheRemoved, [shas[1]]);
    assert.deepEqual(readdirSync(join(root, 'cache')).sort(), shas.filter((_, i) => i !== 1).sort());
    assert.equal(readCurrent(root, TAG), 'aaaaaaa01');

    const protectedRun = await pruneReleases(root, TAG, 2, ['aaaaaaa03']);
    assert.deepEqual(protectedRun.removed.sort(), ['aaaaaaa04', 'aaaaaaa05']);
    assert.deepEqual(releasesOf(root), ['aaaaaaa01', 'aaaaaaa03', 'aaaaaaa06', 'aaaaaaa07']);
  });

  test('ensureShared creates log and data', () => {
    const { root } = fresh();
    const shared = ensureShared(root, TAG);
    assert.deepEqual(shared, { log: join(root, 'jobs', TAG, 'shared', 'log'), data: join(root, 'jobs', TAG, 'shared', 'data') });
    assert.ok(statSync(shared.log).isDirectory() && statSync(shared.data).isDirectory());
    assert.deepEqual(ensureShared(root, TAG), shared);
  });
});
