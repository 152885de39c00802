/**
 * FileKeeper (files.ts): a file written off the caller's path, on a real temp folder: keep()
 * returns before the write, the newest content wins (none lost, a burst written once at most
 * after the write that runs), and a failed write is said and tried again at the next keep().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileKeeper } from './files.js';

test('keep() returns before the write; the newest content of a burst is the one written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'web.conf');
  const files = new FileKeeper();
  files.keep(file, 'one\n');
  assert.throws(() => statSync(file), /ENOENT/, 'not written yet when keep() returns');
  for (let i = 2; i <= 20; i++) files.keep(file, `v${i}\n`); // while the first write runs
  await files.idle();
  assert.equal(readFileSync(file, 'utf8'), 'v20\n', 'the last kept is on disk: no update lost');
  assert.equal(files.failure(file), undefined);
  const before = statSync(file).mtimeMs;
  files.keep(file, 'v20\n'); // the same again: not written
  await files.idle();
  assert.equal(statSync(file).mtimeMs, before);
});

test('a failed write is said, and written at the next keep() once it can be', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-files-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'missing', 'web.conf');
  const files = new FileKeeper();
  files.keep(file, 'one\n');
  await files.idle();
  assert.match(files.failure(file) ?? '', /cannot write .*missing\/\.web\.conf\.noops-tmp/);
  mkdirSync(join(dir, 'missing'));
  files.keep(file, 'one\n');
  await files.idle();
  assert.equal(readFileSync(file, 'utf8'), 'one\n');
  assert.equal(files.failure(file), undefined);
});
