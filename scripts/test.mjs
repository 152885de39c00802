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
// The tests run from JavaScript compiled for the run (esbuild, into .test-build/<pid>/, removed
// after): see compileTree.
import { createWriteStream, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { buildSync } from 'esbuild';

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
      // a file that failed as it loaded is named by its compiled copy (no source map applied)
      files.add(relative(root, at[1]).replace(/^\.test-build\/\d+\/(.*)\.js$/, '$1.ts'));
      inFailure = false;
    }
  }
  return [...files].sort();
}

/** The folders compiled for the tests; everything else at the top of the repository is linked. */
const COMPILED = ['src', 'test', 'bench'];
/** Folders the tests write what they leave behind into (made before the copy, so that they are linked). */
const OUTPUTS = ['test-artifacts', 'test-logs'];

/**
 * Compiles the TypeScript of src/, test/ and bench/ into a copy of the repository made of links, so
 * that the test processes load plain JavaScript. Until session 29 every test process ran through
 * tsx's loader hooks, which pass each module (node_modules' too) through a thread of their own:
 * ~2 s of CPU more in a process that loads the server (4.9 s against 2.75 for
 * swarm.inject.test.ts), and the unit phase, 322 processes on two cores, is CPU-bound. esbuild is
 * what tsx compiles with (tsx also keeps names and drops whitespace; nothing here reads either);
 * compiling everything takes ~1.5 s.
 * The copy holds every other file as a link (the .ts sources too: a test that starts
 * `node --import tsx some.ts`, or reads a source, finds it beside itself), and the top of the
 * repository (bin/, dist/, docs/, node_modules/, ...) as links, so paths made from import.meta.url
 * lead where they did. Inline source maps (with --enable-source-maps) keep stacks and the
 * failures' locations on the .ts sources.
 */
function compileTree(out) {
  mkdirSync(dirname(out), { recursive: true });
  // A run that was killed leaves its copy: remove the copies of processes that are gone.
  for (const name of readdirSync(dirname(out))) {
    if (/^\d+$/.test(name) && !alive(Number(name))) rmSync(join(dirname(out), name), { recursive: true, force: true });
  }
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  // Folders the tests write into are linked, not made in the copy (and removed with it).
  for (const name of OUTPUTS) mkdirSync(join(root, name), { recursive: true });
  const sources = [];
  const mirror = (dir) => {
    const names = readdirSync(join(root, dir));
    for (const name of names) {
      const rel = join(dir, name);
      if (statSync(join(root, rel)).isDirectory()) {
        mkdirSync(join(out, rel));
        mirror(rel);
        continue;
      }
      if (name.endsWith('.ts') && !name.endsWith('.d.ts')) sources.push(join(root, rel));
      // a stray x.js beside x.ts is not linked: esbuild would write through the link into it
      else if (/\.js(\.map)?$/.test(name) && names.includes(name.replace(/\.js(\.map)?$/, '.ts'))) continue;
      symlinkSync(join(root, rel), join(out, rel));
    }
  };
  for (const name of readdirSync(root)) {
    if (name === '.git' || name === '.test-build') continue;
    if (COMPILED.includes(name)) {
      mkdirSync(join(out, name));
      mirror(name);
    } else symlinkSync(join(root, name), join(out, name));
  }
  buildSync({
    entryPoints: sources,
    outdir: out,
    outbase: root,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    sourcesContent: false,
    logLevel: 'warning',
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** The compiled file a test file (a .ts under src/, test/ or bench/) runs from. */
function compiled(out, file) {
  const rel = relative(root, realpathSync(resolve(root, file)));
  if (!COMPILED.includes(rel.split(sep)[0]) || !rel.endsWith('.test.ts')) {
    process.stderr.write(`${file}: not a test file under ${COMPILED.join('/, ')}/ (they are *.test.ts)\n`);
    process.exit(2);
  }
  return join(out, rel.replace(/\.ts$/, '.js'));
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
const out = join(root, '.test-build', String(process.pid));
process.on('exit', () => rmSync(out, { recursive: true, force: true }));
// A signal ends the run without 'exit': the copy is removed here (once the tests' process ended).
for (const [signal, n] of [
  ['SIGINT', 2],
  ['SIGTERM', 15],
  ['SIGHUP', 1],
])
  process.on(signal, () => process.exit(128 + n));
compileTree(out);
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
  // the log always gets TAP, which holds every failure's location, error and output. Where stdout
  // is no terminal (CI) its one TAP stream is copied into the log here: node's own file reporter
  // loses its last lines when --test-force-exit ends the run (a file that failed as it loaded was
  // the last thing written, and missing from the log).
  const tty = process.stdout.isTTY === true;
  const reporters = tty
    ? ['--test-reporter', 'spec', '--test-reporter-destination', 'stdout', '--test-reporter', 'tap', '--test-reporter-destination', log]
    : ['--test-reporter', 'tap', '--test-reporter-destination', 'stdout'];
  // --test-force-exit: a file whose tests all ended exits even if something it started still holds
  // the event loop (session 13: src/server/routes/servers.pg.test.ts passed, then its process sat
  // idle with one timer referenced for 15 minutes, and the run with it); what holds it is not found yet.
  const child = spawn(
    process.execPath,
    [
      '--enable-source-maps',
      '--test',
      '--test-force-exit',
      `--test-concurrency=${concurrency}`,
      ...reporters,
      ...group.map((file) => compiled(out, file)),
    ],
    {
      cwd: root,
      stdio: ['inherit', tty ? 'inherit' : 'pipe', 'inherit'],
      env: { ...process.env },
    },
  );
  const copied = tty ? undefined : createWriteStream(log);
  if (copied) {
    child.stdout.pipe(copied);
    child.stdout.pipe(process.stdout, { end: false });
  }
  const [status, signal] = await once(child, 'close');
  if (copied && !copied.closed) await once(copied, 'close');
  pruneLogs();
  if (status !== 0) {
    const failed = failedFiles(log);
    process.stderr.write(
      `\n${phase} tests failed (exit ${status ?? signal})${failed.length > 0 ? ` in:\n${failed.map((f) => `  ${f}\n`).join('')}` : '\n'}the whole log: ${relative(root, log)}\n`,
    );
    process.exit(status ?? 1);
  }
}
