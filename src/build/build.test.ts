import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BUILD_LOG_LIMIT, BUILD_LOG_TAIL, runBuild } from './build.js';
import { Sandbox } from './test-repo.js';
import { processDefaults } from '../release/index.js';

/** Runs `fn` in a fresh sandbox and removes it afterwards. */
async function inSandbox(fn: (sb: Sandbox) => Promise<void>): Promise<void> {
  const sb = await Sandbox.create();
  try {
    await fn(sb);
  } finally {
    await sb.close();
  }
}

test('a Procfile repository becomes a release: manifest.json first, the files, no .git', () =>
  inSandbox(async (sb) => {
    const commit = await sb.repo.commit({
      Procfile: 'web: ./server.sh\nworker: ./work.sh\n',
      'server.sh': '#!/bin/sh\n',
      'lib/a.txt': 'a\n',
    });
    const r = await runBuild({ ...sb.options(), ref: 'main' });

    assert.equal(r.commit, commit);
    assert.equal(r.version, commit.slice(0, 9));
    const { builtAt, ...rest } = r.manifest;
    assert.ok(!Number.isNaN(Date.parse(builtAt)));
    assert.deepEqual(rest, {
      schema: 1,
      job: 'cop.acme_owt.web_pdl.shop_service.api_job.web',
      version: commit.slice(0, 9),
      commit,
      repo: sb.repo.dir,
      stack: 'procfile',
      env: {},
      processes: [processDefaults('web', { command: './server.sh' }), processDefaults('worker', { command: './work.sh' })],
      crons: [],
    });

    const entries = await sb.entries(r.sha256);
    assert.equal(entries[0], 'manifest.json');
    assert.deepEqual([...entries].sort(), ['Procfile', 'lib/', 'lib/a.txt', 'manifest.json', 'server.sh']);
    const dir = await sb.unpack(r.sha256);
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')), r.manifest);

    assert.equal(await sb.artifacts.verify(r.sha256), true);
    assert.equal(r.size, (await readFile(sb.artifacts.path(r.sha256))).length);
    assert.deepEqual(await readdir(sb.workDir), [], 'the work folder is removed');
    const log = sb.log.join('');
    assert.match(log, /^\$ git clone --no-checkout -- /);
    assert.match(log, new RegExp(`noops: building .* ${r.version} \\(${commit}\\), stack procfile`));
  }));

test("building an older commit (from a file:// URL, with a broken log) gives that commit's files", () =>
  inSandbox(async (sb) => {
    const first = await sb.repo.commit({ Procfile: 'web: cat app.txt\n', 'app.txt': 'v1\n' }, 'v1');
    await sb.repo.commit({ 'app.txt': 'v2\n', 'new.txt': 'new\n' }, 'v2');
    const repo = `file://${sb.repo.dir}`;
    const r = await runBuild({
      ...sb.options(),
      repo,
      ref: first.slice(0, 9),
      log: () => {
        throw new Error('the log sink is gone');
      },
    });
    assert.equal(r.manifest.repo, repo);
    assert.equal(r.commit, first);
    assert.equal(r.version, first.slice(0, 9));
    const dir = await sb.unpack(r.sha256);
    assert.equal(await readFile(join(dir, 'app.txt'), 'utf8'), 'v1\n');
    assert.deepEqual((await readdir(dir)).sort(), ['Procfile', 'app.txt', 'manifest.json']);
  }));

test('a branch other than the default one, and a tag, resolve', () =>
  inSandbox(async (sb) => {
    await sb.repo.commit({ Procfile: 'web: x\n' });
    sb.repo.git('tag', 'v1.0');
    sb.repo.git('checkout', '--quiet', '-b', 'feature');
    const feature = await sb.repo.commit({ 'f.txt': 'f' });
    sb.repo.git('checkout', '--quiet', 'main');
    assert.equal((await runBuild({ ...sb.options(), ref: 'feature' })).commit, feature);
    assert.equal((await runBuild({ ...sb.options(), ref: 'v1.0' })).commit, sb.repo.git('rev-parse', 'main').trim());
  }));

test('a package.json with a build script: npm install, npm run build, web: npm start', () =>
  inSandbox(async (sb) => {
    const pkg = {
      name: 'app',
      version: '1.0.0',
      private: true,
      scripts: { build: `node -e "require('fs').writeFileSync('built.txt','ok')"`, start: 'node server.js' },
    };
    await sb.repo.commit({ 'package.json': JSON.stringify(pkg, null, 2), 'server.js': '' });
    const r = await runBuild({ ...sb.options(), ref: 'main' });
    assert.equal(r.manifest.stack, 'node');
    assert.deepEqual(r.manifest.processes, [processDefaults('web', { command: 'npm start' })]);
    const dir = await sb.unpack(r.sha256);
    assert.equal(await readFile(join(dir, 'built.txt'), 'utf8'), 'ok');
    const log = sb.log.join('');
    assert.match(log, /^\$ npm install --no-audit --no-fund$/m);
    assert.match(log, /^\$ npm run build$/m);
  }));

test('noops.yaml: build and test commands run in order, env and exclude apply', () =>
  inSandbox(async (sb) => {
    const yaml = [
      'build:',
      '  - echo built > out.txt',
      '  - mkdir -p docs/deep && touch docs/deep/x.md',
      'test: grep -q built out.txt',
      'env: { NODE_ENV: production }',
      'processes:',
      '  web: { command: ./serve, port: 8080 }',
      'exclude: [docs, "*.log", "**/secret.txt"]',
    ].join('\n');
    await sb.repo.commit({ 'noops.yaml': yaml, 'a.log': '', 'src/secret.txt': '', 'src/ok.txt': '' });
    const r = await runBuild({ ...sb.options(), ref: 'main' });
    assert.equal(r.manifest.stack, 'manifest');
    assert.deepEqual(r.manifest.env, { NODE_ENV: 'production' });
    assert.deepEqual(r.manifest.processes, [processDefaults('web', { command: './serve', port: 8080 })]);
    assert.deepEqual((await sb.entries(r.sha256)).sort(), ['manifest.json', 'noops.yaml', 'out.txt', 'src/', 'src/ok.txt']);
    assert.deepEqual(
      sb.log.filter((t) => t.startsWith('$ ') && !t.startsWith('$ git')),
      ['$ echo built > out.txt\n', '$ mkdir -p docs/deep && touch docs/deep/x.md\n', '$ grep -q built out.txt\n'],
    );
  }));

test("build commands see the job, the commit and the caller's env, not the server's secrets", () =>
  inSandbox(async (sb) => {
    process.env.NOOPS_TEST_SERVER_SECRET = 'hunter2';
    try {
      const yaml =
        'build: test -z "$NOOPS_TEST_SERVER_SECRET" && echo "$NOOPS_JOB $NOOPS_VERSION $NOOPS_COMMIT $EXTRA $CI" > env.txt\nprocesses: { web: x }\n';
      const commit = await sb.repo.commit({ 'noops.yaml': yaml });
      const r = await runBuild({ ...sb.options('job.a'), ref: 'main', env: { EXTRA: 'given' } });
      const dir = await sb.unpack(r.sha256);
      assert.equal(await readFile(join(dir, 'env.txt'), 'utf8'), `job.a ${commit.slice(0, 9)} ${commit} given true\n`);
    } finally {
      delete process.env.NOOPS_TEST_SERVER_SECRET;
    }
  }));

test('symlinks inside the checkout are kept as symlinks', () =>
  inSandbox(async (sb) => {
    await sb.repo.commit({ Procfile: 'web: x\n', 'real/a.txt': 'a', link: { symlink: 'real/a.txt' }, 'real/up': { symlink: '../real' } });
    const r = await runBuild({ ...sb.options(), ref: 'main' });
    assert.deepEqual((await sb.entries(r.sha256)).sort(), ['Procfile', 'link', 'manifest.json', 'real/', 'real/a.txt', 'real/up']);
  }));

test('the build log keeps BUILD_LOG_LIMIT characters of output and the last BUILD_LOG_TAIL, says it cut the rest, and the build goes on', () =>
  inSandbox(async (sb) => {
    // 5 MB of x in one line, 1 MB of y, then a marker at the very end that must be kept
    await sb.repo.commit({
      Procfile: 'web: x\n',
      'build.sh': 'head -c 5000000 /dev/zero | tr "\\0" x; head -c 1000000 /dev/zero | tr "\\0" y; echo; echo THE-LAST-LINE\n',
    });
    const r = await runBuild({ ...sb.options(), ref: 'main' });
    const log = sb.log.join('');
    assert.equal(Math.max(...(log.match(/x+/g) ?? []).map((m) => m.length)), BUILD_LOG_LIMIT, 'the output, up to the limit');
    assert.match(
      log,
      new RegExp(
        `\\nnoops: the build's output passed ${BUILD_LOG_LIMIT} characters \\(BUILD_LOG_LIMIT\\); only its last ${BUILD_LOG_TAIL} characters are kept`,
      ),
    );
    assert.match(log, /THE-LAST-LINE\n/, 'the end of the output is kept');
    const tail = log.slice(log.lastIndexOf('characters of output were cut'));
    assert.equal(
      (tail.match(/y+/) ?? [''])[0].length,
      BUILD_LOG_TAIL - 'THE-LAST-LINE\n'.length - 1,
      'the tail is the last BUILD_LOG_TAIL characters',
    );
    assert.match(log, new RegExp(`noops: release ${r.version} packed`), "noops's own lines still go through");
  }));
