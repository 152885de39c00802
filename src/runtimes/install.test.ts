import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm, stat, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '../artifacts/index.js';
import { ensureRuntime, installRuntime, listInstalledRuntimes, readRuntimeMarker } from './install.js';
import { inspectRuntimeTarball } from './inspect.js';
import { canInstallRuntimes, pruneRuntimes } from './prune.js';
import { elfHeader, makeTarball, NODE_18, nodeRuntimeTarball } from './test-runtimes.js';

async function inTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'noops-rt-'));
  try {
    await fn(dir);
  } finally {
    execFileSync('chmod', ['-R', 'u+w', dir]);
    await rm(dir, { recursive: true, force: true });
  }
}

const tool = { text: '#!/bin/sh\necho "tool $0"\n', mode: 0o755 };

test('a real Node.js runtime from npm: package/bin/node, linux/x64, installed read-only and runnable', () =>
  inTmp(async (dir) => {
    const file = nodeRuntimeTarball(NODE_18);
    assert.deepEqual(await inspectRuntimeTarball(file).then((r) => ({ root: r.root, platform: r.platform })), {
      root: 'package',
      platform: 'linux/x64',
    });
    const sha256 = await sha256File(file);
    const runtimes = join(dir, 'runtimes');
    const r = await installRuntime({ runtimesDir: runtimes, ref: { name: 'node', version: NODE_18, sha256 }, file });
    assert.deepEqual(r, { dir: join(runtimes, 'node', NODE_18), installed: true });
    assert.equal(execFileSync(join(r.dir, 'bin', 'node'), ['--version'], { encoding: 'utf8' }).trim(), `v${NODE_18}`);
    assert.equal((await stat(join(r.dir, 'bin', 'node'))).mode & 0o777, 0o555);
    assert.equal((await stat(join(r.dir, 'bin'))).mode & 0o777, 0o555);
    assert.equal((await stat(join(r.dir, 'LICENSE'))).mode & 0o777, 0o444);
    assert.deepEqual(await readdir(join(runtimes, 'node')), [NODE_18], 'no temp folder is left');
    // once: a second install of the same package does nothing
    assert.equal((await installRuntime({ runtimesDir: runtimes, ref: { name: 'node', version: NODE_18, sha256 }, file })).installed, false);
  }));

test('bin/ at the top; the marker records the package; ensureRuntime downloads once and verifies', () =>
  inTmp(async (dir) => {
    const file = await makeTarball(dir, { 'bin/tool': tool, 'lib/x.txt': 'x' });
    const sha256 = await sha256File(file);
    const opts = { runtimesDir: join(dir, 'runtimes'), cacheDir: join(dir, 'cache'), ref: { name: 'tool', version: '1.0', sha256 } };
    let downloads = 0;
    const download = async (dest: string): Promise<void> => {
      downloads++;
      await copyFile(file, dest);
    };
    const r = await ensureRuntime({ ...opts, download });
    assert.equal(r.downloaded, true);
    assert.equal(execFileSync(join(r.dir, 'bin', 'tool'), { encoding: 'utf8' }), `tool ${join(r.dir, 'bin', 'tool')}\n`);
    assert.equal(readRuntimeMarker(r.dir)?.sha256, sha256);
    assert.deepEqual(await ensureRuntime({ ...opts, download }), { dir: r.dir, installed: false, downloaded: false });
    assert.equal(downloads, 1);
    assert.deepEqual(
      (await listInstalledRuntimes(opts.runtimesDir)).map((m) => `${m.name}@${m.version}`),
      ['tool@1.0'],
    );

    const bad = { ...opts, ref: { name: 'tool', version: '2.0', sha256: 'a'.repeat(64) } };
    await assert.rejects(ensureRuntime({ ...bad, download }), { code: 'NOOPS_E_SHA256_MISMATCH' });
    assert.deepEqual(await readdir(join(opts.runtimesDir, 'tool')), ['1.0']);
  }));

test('a tarball without bin/, or with an entry that escapes, is refused and leaves nothing', () =>
  inTmp(async (dir) => {
    const runtimes = join(dir, 'runtimes');
    const noBin = await makeTarball(dir, { 'a/x': 'x', 'b/y': 'y' });
    await assert.rejects(inspectRuntimeTarball(noBin), { code: 'NOOPS_E_PACKAGE_INVALID' });
    await assert.rejects(
      installRuntime({ runtimesDir: runtimes, ref: { name: 'x', version: '1', sha256: await sha256File(noBin) }, file: noBin }),
      { code: 'NOOPS_E_PACKAGE_INVALID' },
    );
    assert.deepEqual(await readdir(join(runtimes, 'x')), []);

    const evil = join(dir, 'evil.tar');
    const src = join(dir, 'evil-src');
    await mkdir(join(src, 'bin'), { recursive: true });
    await writeFile(join(src, 'bin', 'tool'), 'x');
    execFileSync('tar', ['-cf', evil, '-C', src, 'bin', '--transform', 's,^bin/tool,../../escape,']);
    await assert.rejects(inspectRuntimeTarball(evil), { code: 'NOOPS_E_PACKAGE_UNSAFE' });
    await assert.rejects(
      installRuntime({ runtimesDir: runtimes, ref: { name: 'y', version: '1', sha256: await sha256File(evil) }, file: evil }),
      { code: 'NOOPS_E_PACKAGE_UNSAFE' },
    );
    assert.deepEqual(await readdir(dir).then((n) => n.includes('escape')), false);
  }));

test('the platform comes from the first native program in bin/; scripts only means any', () =>
  inTmp(async (dir) => {
    const arm = await makeTarball(dir, { 'bin/a-script': tool, 'bin/prog': { text: elfHeader(0xb7), mode: 0o755 } }, 'top');
    assert.deepEqual(await inspectRuntimeTarball(arm).then((r) => [r.root, r.platform]), ['top', 'linux/arm64']);
    const scripts = await makeTarball(dir, { 'bin/mvn': tool, 'lib/a.jar': 'PK' });
    assert.deepEqual(await inspectRuntimeTarball(scripts).then((r) => [r.root, r.platform]), ['', 'any']);
  }));

test('prune removes unused runtimes (read-only as they are) and keeps those in use', () =>
  inTmp(async (dir) => {
    const runtimes = join(dir, 'runtimes');
    const file = await makeTarball(dir, { 'bin/tool': tool });
    const sha256 = await sha256File(file);
    for (const version of ['1', '2']) await installRuntime({ runtimesDir: runtimes, ref: { name: 'tool', version, sha256 }, file });
    await mkdir(join(runtimes, 'tool', '.tmp-3-abc'));
    const r = await pruneRuntimes(runtimes, new Set(['tool@2']), {}, Date.now() + 1000, 0);
    assert.deepEqual(r, { removed: ['tool@1'], errors: [] });
    assert.deepEqual(await readdir(join(runtimes, 'tool')), ['.tmp-3-abc', '2'], 'a fresh temp folder may be an install in progress');
    assert.deepEqual(await canInstallRuntimes(runtimes), { canInstall: true, reason: null });
    await writeFile(join(dir, 'file'), '');
    const no = await canInstallRuntimes(join(dir, 'file', 'runtimes'));
    assert.equal(no.canInstall, false);
    assert.match(no.reason!, /^cannot write in .*file\/runtimes: /);
  }));

test('pruneRuntimes: a folder it cannot read is reported in errors, not read as empty; a missing one is no error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'noops-prune-'));
  try {
    await symlink('loop', join(dir, 'loop')); // readdir of it fails with ELOOP, as root too
    const r = await pruneRuntimes(dir, new Set(), {}, Date.now(), 0);
    assert.deepEqual(r.removed, []);
    assert.equal(r.errors.length, 1, r.errors.join('\n'));
    assert.match(r.errors[0]!, new RegExp(`^${join(dir, 'loop')}: ELOOP`));
    assert.deepEqual(await pruneRuntimes(join(dir, 'none'), new Set(), {}, Date.now(), 0), { removed: [], errors: [] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
