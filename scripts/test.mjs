#!/usr/bin/env node
// Runs the tests with node:test. Node 20's test runner takes neither globs nor directories
// (a directory runs 0 tests and exits 0), so the files are listed here explicitly.
//   node scripts/test.mjs            unit tests (src/ and bench/ **/*.test.ts), then end-to-end (test/e2e/*.test.ts)
//   node scripts/test.mjs --unit     unit tests only
//   node scripts/test.mjs --e2e      end-to-end tests only
//   node scripts/test.mjs FILE...    just those files
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out.sort();
}

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('--'));
let groups;
if (files.length > 0) groups = [files];
else {
  // The benchmarks' own parts (bench/**/*.test.ts) are tested with the unit tests.
  const unit = [...find(join(root, 'src')), ...find(join(root, 'bench'))];
  const e2e = find(join(root, 'test'));
  groups = args.includes('--unit') ? [unit] : args.includes('--e2e') ? [e2e] : [unit, e2e];
}

for (const group of groups) {
  if (group.length === 0) continue;
  // Unit tests run in parallel (one process per file); end-to-end tests start fleets of real
  // processes, so they run one file at a time to keep a 2-core machine responsive.
  const concurrency = group[0].startsWith('test/') ? '1' : '2';
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...group], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env },
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
