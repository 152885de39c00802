import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tightenDataDir } from './data-dir.js';

test('tightenDataDir: the folder to 0700, its files to 0600; subfolders and symlink targets untouched', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'noops-datadir-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const dir = join(base, 'data');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'noops.db'), '', { mode: 0o644 });
  writeFileSync(join(dir, 'admin.token'), 'x', { mode: 0o644 });
  mkdirSync(join(dir, 'builds'), { mode: 0o711 });
  chmodSync(join(dir, 'builds'), 0o711);
  const outside = join(base, 'outside');
  writeFileSync(outside, '', { mode: 0o644 });
  chmodSync(outside, 0o644);
  symlinkSync(outside, join(dir, 'link'));
  assert.deepEqual(tightenDataDir(dir), []);
  const mode = (p: string): number => statSync(p).mode & 0o777;
  assert.equal(mode(dir), 0o700);
  assert.equal(mode(join(dir, 'noops.db')), 0o600);
  assert.equal(mode(join(dir, 'admin.token')), 0o600);
  assert.equal(mode(join(dir, 'builds')), 0o711);
  assert.equal(mode(outside), 0o644, 'a symlink is not followed');
});
