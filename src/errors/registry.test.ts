/**
 * Keeps the error registry, its use and its docs in sync, as Fastify's error tests do: every code
 * is used in src/, documented in docs/errors.md with the registry's status and hint, and no code
 * outside the registry is used or documented. Retired codes are used nowhere and marked so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, RETIRED_CODES, type ErrorCode } from './index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = join(ROOT, 'src');
const CODE = /NOOPS_E_[A-Z0-9_]+/g;
const registered = Object.keys(ERROR_CODES) as ErrorCode[];

/** Every .ts/.tsx file under `dir`, as paths relative to the repository. */
function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.tsx?$/.test(f))
    .map((f) => relative(ROOT, join(dir, f)));
}

/** The code-bearing sources: src/ less the tests and the registry itself. */
const productSources = sources(SRC).filter((f) => !/\.test\.tsx?$/.test(f) && !f.startsWith(join('src', 'errors')));

/** Each code found in the files, with the files it is in. */
function codesIn(files: string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const f of files) {
    for (const c of new Set(readFileSync(join(ROOT, f), 'utf8').match(CODE) ?? [])) {
      let where = found.get(c);
      if (!where) found.set(c, (where = []));
      where.push(f);
    }
  }
  return found;
}

/** docs/errors.md's table rows, by code: [status, meaning, default hint]. Cells split on unescaped "|". */
function documentedRows(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8').split('\n')) {
    const m = /^\| `(NOOPS_E_[A-Z0-9_]+)` \|(.*)\|$/.exec(line);
    if (!m) continue;
    assert.ok(!rows.has(m[1]!), `docs/errors.md has two rows for ${m[1]}`);
    rows.set(
      m[1]!,
      m[2]!.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, '|')),
    );
  }
  return rows;
}

test('every registered code has a hint, and every retired code is a registered one with a reason', () => {
  for (const code of registered) assert.ok(ERROR_CODES[code].hint.trim().length > 0, `${code} has no hint`);
  for (const [code, why] of Object.entries(RETIRED_CODES)) {
    assert.ok(code in ERROR_CODES, `retired ${code} stays in ERROR_CODES (codes are never deleted)`);
    assert.ok(why && why.length > 0, `retired ${code} says why`);
  }
});

test('every code in use is used somewhere in src/, and no retired code is', () => {
  const used = codesIn(productSources);
  for (const code of registered) {
    if (code in RETIRED_CODES) assert.equal(used.get(code), undefined, `${code} is retired, yet used in ${used.get(code)?.join(', ')}`);
    else
      assert.ok(
        used.has(code),
        `${code} is thrown nowhere in src/: throw it where it belongs, or retire it in RETIRED_CODES (never delete or reuse it)`,
      );
  }
});

test('no code is used in src/ that is not in the registry (tests included)', () => {
  const unknown = [...codesIn(sources(SRC))].filter(([code]) => !(code in ERROR_CODES));
  assert.deepEqual(unknown, [], 'add these to src/errors/index.ts, or fix their spelling');
});

test("docs/errors.md has one row per code with the registry's status and hint, and a retired code is marked so", () => {
  const rows = documentedRows();
  for (const code of registered) {
    const row = rows.get(code);
    assert.ok(row, `docs/errors.md has no row for ${code}`);
    assert.equal(row.length, 3, `${code}'s row has the columns status, what it means, what to do`);
    const [status, meaning, hint] = row as [string, string, string];
    assert.equal(status, String(ERROR_CODES[code].status), `${code}'s status in docs/errors.md`);
    assert.equal(hint, ERROR_CODES[code].hint, `${code}'s hint in docs/errors.md is the registry's`);
    assert.ok(meaning.length > 0, `${code} says what it means`);
    assert.equal(
      meaning.startsWith('**Retired**'),
      code in RETIRED_CODES,
      `${code}'s row begins with **Retired** exactly when it is in RETIRED_CODES`,
    );
  }
  assert.deepEqual(
    [...rows.keys()].filter((c) => !(c in ERROR_CODES)),
    [],
    'docs/errors.md documents codes the registry does not have',
  );
});

test('the docs name no code that the registry does not have', () => {
  const docs = [
    'README.md',
    ...readdirSync(join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => join('docs', f)),
  ];
  const moduleReadmes = readdirSync(SRC)
    .map((d) => join('src', d, 'README.md'))
    .filter((f) => existsSync(join(ROOT, f)));
  const unknown = [...codesIn([...docs, ...moduleReadmes])].filter(([code]) => !(code in ERROR_CODES));
  assert.deepEqual(unknown, []);
});
