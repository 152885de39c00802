import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register } from 'tsx/esm/api';
import { discover } from './discover.js';

test('every bench/<name>/index.ts that exports run, and only those', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-discover-'));
  // The benchmarks run under tsx (`npm run bench`); the tests run compiled (scripts/test.mjs), so
  // this one loads tsx itself to import the .ts modules it writes.
  const unregister = register();
  try {
    const put = (path: string, text: string): void => {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    };
    // As in the repository, whose package.json says "type": "module".
    put('package.json', '{"type":"module"}\n');
    put('alpha/index.ts', 'export async function run(opts: { quick: boolean }) { return { quick: opts.quick, from: "alpha" }; }\n');
    put('beta/index.ts', 'export const nothing = 1;\n');
    put('lib/stats.ts', 'export const x = 1;\n');
    put('gamma/index.ts', 'export async function run() { return "gamma"; }\n');
    const found = await discover(dir);
    assert.deepEqual(
      found.map((b) => b.name),
      ['alpha', 'gamma'],
    );
    assert.deepEqual(await found[0]!.run({ quick: true }), { quick: true, from: 'alpha' });
    assert.deepEqual(
      (await discover(dir, ['gamma'])).map((b) => b.name),
      ['gamma'],
    );
    await assert.rejects(discover(dir, ['delta']), /no benchmark named delta \(there are: alpha, beta, gamma\)/);
    put('bad/index.ts', 'export const run = 5;\n');
    await assert.rejects(discover(dir), /bench\/bad\/index.ts exports "run" that is not a function/);
  } finally {
    await unregister();
    rmSync(dir, { recursive: true, force: true });
  }
});
