/**
 * Errors as a user meets them: bin/noops (the built CLI, as `npm test` builds it first) given a
 * --db it cannot use prints the code, the message and the hint, no stack trace, and exits 1,
 * before it creates anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from './index.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'noops');

/** A CLI run to its end (the command fails at once; the test runner's own timeout bounds it). */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b;
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const HINT = ERROR_CODES.NOOPS_E_STORE_URL.hint;

for (const [db, message] of [
  [
    'mysql://root:secret@db.example/noops',
    'unsupported store URL scheme "mysql:"; use sqlite:/abs/path/noops.db, a path ending in .db, or postgres://user:pass@host:5432/db',
  ],
  [
    'noops.sqlite',
    'unsupported store URL "noops.sqlite"; use sqlite:/abs/path/noops.db, a path ending in .db, or postgres://user:pass@host:5432/db',
  ],
  ['sqlite:', 'store URL "sqlite:" names no file; use sqlite:/abs/path/noops.db'],
  [
    'postgres://noops:secret@127.0.0.1:notaport/noops',
    'the postgres:// store URL is not a valid URL (check the port, and percent-encode special characters in the password)',
  ],
] as const) {
  test(`noops server --db ${db.replace(/secret/, '***')}: NOOPS_E_STORE_URL with its hint, exit 1, no stack trace, nothing created`, {
    timeout: 30_000,
  }, async () => {
    const data = mkdtempSync(join(tmpdir(), 'noops-db-url-'));
    try {
      const r = await run(['server', '--data', data, '--listen', '127.0.0.1:0', '--db', db]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, `noops: ${message}\n  (NOOPS_E_STORE_URL) ${HINT}\n`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.doesNotMatch(r.stderr, /secret/, 'the password is never printed');
      assert.match(HINT, /postgres:\/\/.*sqlite:\/.*\.db/, 'the hint names the supported forms');
      assert.deepEqual(readdirSync(data), [], 'nothing was created in the data folder');
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
}

/** A loopback port that nothing listens on: bound by the OS, then let go. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return port;
}

test('noops server --db postgres:// that nothing answers: NOOPS_E_STORE_OPEN naming the cause, exit 1, no stack trace', {
  timeout: 30_000,
}, async () => {
  const data = mkdtempSync(join(tmpdir(), 'noops-db-open-'));
  try {
    const port = await closedPort();
    const r = await run(['server', '--data', data, '--listen', '127.0.0.1:0', '--db', `postgres://noops:secret@127.0.0.1:${port}/noops`]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      `noops: store migration failed: connect ECONNREFUSED 127.0.0.1:${port}\n  (NOOPS_E_STORE_OPEN) ${ERROR_CODES.NOOPS_E_STORE_OPEN.hint}\n`,
    );
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});
