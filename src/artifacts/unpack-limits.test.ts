import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { NoopsError } from '../errors/index.js';
import { extractPackage } from './extract.js';
import { checkUnpackedSize, PACKAGE_MAX_FILES, PACKAGE_MAX_UNPACKED_BYTES, unpackLimits } from './unpack-limits.js';

test('checkUnpackedSize: the sum of declared sizes and the entry count, against the limits', () => {
  const entries = [
    { path: 'a', type: 'File', size: 600 },
    { path: 'b', type: 'File', size: 500 },
    { path: 'd', type: 'Directory' },
  ];
  assert.doesNotThrow(() => checkUnpackedSize(entries, { bytes: 1100, files: 3 }));
  assert.throws(
    () => checkUnpackedSize(entries, { bytes: 1099, files: 3 }),
    (e: unknown) => e instanceof NoopsError && e.code === 'NOOPS_E_PACKAGE_TOO_LARGE' && /1100 bytes/.test(e.message),
  );
  assert.throws(() => checkUnpackedSize(entries, { bytes: 1100, files: 2 }), /3 entries/);
});

test("unpackLimits: the constants, or the host's environment", () => {
  assert.deepEqual(unpackLimits({}), { bytes: PACKAGE_MAX_UNPACKED_BYTES, files: PACKAGE_MAX_FILES });
  assert.deepEqual(unpackLimits({ NOOPS_PACKAGE_MAX_BYTES: '1000', NOOPS_PACKAGE_MAX_FILES: '7' }), { bytes: 1000, files: 7 });
  assert.throws(() => unpackLimits({ NOOPS_PACKAGE_MAX_BYTES: '-1' }), /positive whole number/);
});

test('extractPackage: a 3 MB file in a few KB of gzip is refused before anything is written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-unpack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'zeros.bin'), Buffer.alloc(3 * 1024 * 1024));
  const pkg = join(dir, 'pkg.tar.gz');
  await create({ gzip: true, file: pkg, cwd: join(dir, 'src') }, ['zeros.bin']);
  assert.ok(statSync(pkg).size < 10_000);
  const dest = join(dir, 'dest');
  mkdirSync(dest);
  await assert.rejects(
    extractPackage(pkg, dest, { bytes: 1024 * 1024, files: 100 }),
    (e: unknown) => e instanceof NoopsError && e.code === 'NOOPS_E_PACKAGE_TOO_LARGE',
  );
  assert.deepEqual(readdirSync(dest), [], 'nothing was written');
  await extractPackage(pkg, dest, { bytes: 4 * 1024 * 1024, files: 100 });
  assert.equal(statSync(join(dest, 'zeros.bin')).size, 3 * 1024 * 1024);
});
