#!/usr/bin/env node
// Runs the tests with node:test. Node 20's test runner takes neither globs nor directories
// (a directory runs 0 tests and exits 0), so the files are listed here explicitly.
//   node scripts/test.mjs            unit tests (src/ and bench/ **/*.test.ts), then end-to-end (test/e2e/*.test.ts)
//   node scripts/test.mjs --unit     unit tests only
//   node scripts/test.mjs --e2e      end-to-end tests only
//   node scripts/test.mjs FILE...    just those files
// Two files run at a time (NOOPS_TEST_CONCURRENCY=N: N at a time).
// Each phase's whole report (TAP, with the tests' own output) is also kept in test-logs/ (ignored
// by git), so that a failed CI run leaves its log behind; on a failure the files that failed and
// the log's path are printed last.
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const logDir = join(root, 'test-logs');
/** How many logs test-logs/ keeps: the newest ones, enough for the runs of a day's failures. */
const KEEP_LOGS = 20;

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out.sort();
}

/** The test files whose tests failed, from a TAP log (each failure's `location:` names its file). */
function failedFiles(tapFile) {
  let text;
  try {
    text = readFileSync(tapFile, 'utf8');
  } catch {
    return [];
  }
  const files = new Set();
  let inFailure = false;
  for (const line of text.split('\n')) {
    if (/^\s*not ok /.test(line))
      inFailure = !/# (TODO|SKIP)\b/i.test(line); // a todo's failure is expected
    else if (/^\s*ok /.test(line)) inFailure = false;
    const at = inFailure && /^\s*location: '(.*?):\d+:\d+'$/.exec(line);
    if (at) {
      files.add(relative(root, at[1]));
      inFailure = false;
    }
  }
  return [...files].sort();
}

/** Removes all but the newest KEEP_LOGS logs. */
function pruneLogs() {
  const logs = readdirSync(logDir)
    .filter((n) => n.endsWith('.tap'))
    .sort();
  for (const name of logs.slice(0, Math.max(0, logs.length - KEEP_LOGS))) rmSync(join(logDir, name), { force: true });
}

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('--'));
let groups;
if (files.length > 0) groups = [['files', files]];
else {
  // The benchmarks' own parts (bench/**/*.test.ts) are tested with the unit tests.
  const unit = [...find(join(root, 'src')), ...find(join(root, 'bench'))];
  const e2e = find(join(root, 'test'));
  groups = args.includes('--unit')
    ? [['unit', unit]]
    : args.includes('--e2e')
      ? [['e2e', e2e]]
      : [
          ['unit', unit],
          ['e2e', e2e],
        ];
}

mkdirSync(logDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
for (const [phase, group] of groups) {
  if (group.length === 0) continue;
  // Two files at a time, each in its own process. End-to-end files ran one at a time until
  // session 22: they wait on their fleets more than they compute (1.4 cores of 2 used at two at a
  // time), and CI had reached 26-28 of its 30 minutes (e2e alone 16.5 min; 9.8 at two at a time).
  // NOOPS_TEST_CONCURRENCY=1 runs one file at a time (to read a failure's output in order).
  const concurrency = /^[1-9]\d*$/.test(process.env.NOOPS_TEST_CONCURRENCY ?? '') ? process.env.NOOPS_TEST_CONCURRENCY : '2';
  const log = join(logDir, `${stamp}-${phase}.tap`);
  // The terminal gets the reporter node would pick by itself (spec on a terminal, TAP otherwise);
  // the log always gets TAP, which holds every failure's location, error and output.
  const reporters = [
    '--test-reporter',
    process.stdout.isTTY ? 'spec' : 'tap',
    '--test-reporter-destination',
    'stdout',
    '--test-reporter',
    'tap',
    '--test-reporter-destination',
    log,
  ];
  // --test-force-exit: a file whose tests all ended exits even if something it started still holds
  // the event loop (session 13: src/server/routes/servers.pg.test.ts passed, then its process sat
  // idle with one timer referenced for 15 minutes, and the run with it); what holds it is not found yet.
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-force-exit', `--test-concurrency=${concurrency}`, ...reporters, ...group],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env },
    },
  );
  pruneLogs();
  if (r.status !== 0) {
    const failed = failedFiles(log);
    process.stderr.write(
      `\n${phase} tests failed (exit ${r.status ?? r.signal})${failed.length > 0 ? ` in:\n${failed.map((f) => `  ${f}\n`).join('')}` : '\n'}the whole log: ${relative(root, log)}\n`,
    );
    process.exit(r.status ?? 1);
  }
}
