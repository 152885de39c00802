import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runBuild } from './build.js';
import { Sandbox } from './test-repo.js';

async function inSandbox(fn: (sb: Sandbox) => Promise<void>): Promise<void> {
  const sb = await Sandbox.create();
  try {
    await fn(sb);
  } finally {
    await sb.close();
  }
}

/** Nothing was stored, and the work folder is empty again. */
async function assertNothingLeft(sb: Sandbox): Promise<void> {
  const stored = await readdir(sb.artifacts.dir).catch(() => [] as string[]);
  assert.deepEqual(
    stored.filter((name) => name !== '.tmp'),
    [],
    'no package is stored',
  );
  assert.deepEqual(await readdir(sb.workDir).catch(() => [] as string[]), [], 'the work folder is removed');
}

test('a failing test command fails the build with NOOPS_E_TEST_FAILED and stores nothing', () =>
  inSandbox(async (sb) => {
    await sb.repo.commit({ 'noops.yaml': 'test:\n  - echo testing\n  - "echo broken >&2; exit 4"\nprocesses: { web: ./serve }\n' });
    await assert.rejects(runBuild({ ...sb.options(), ref: 'main' }), {
      code: 'NOOPS_E_TEST_FAILED',
      message: 'the test command "echo broken >&2; exit 4" failed with exit code 4',
    });
    assert.match(sb.log.join(''), /\$ echo testing\ntesting\n\$ echo broken >&2; exit 4\nbroken\n/);
    await assertNothingLeft(sb);
  }));

test('a failing build command fails with NOOPS_E_BUILD_FAILED naming the command and its exit code', () =>
  inSandbox(async (sb) => {
    await sb.repo.commit({ 'noops.yaml': 'build: ["echo building", "exit 7", "echo never"]\nprocesses: { web: x }\n' });
    await assert.rejects(runBuild({ ...sb.options(), ref: 'main' }), {
      code: 'NOOPS_E_BUILD_FAILED',
      message: 'the build command "exit 7" failed with exit code 7',
    });
    assert.doesNotMatch(sb.log.join(''), /never/);
    await assertNothingLeft(sb);
  }));

test('a build past the time limit is killed with its children', () =>
  inSandbox(async (sb) => {
    await sb.repo.commit({ 'noops.yaml': 'build: "sleep 30 & sleep 30"\nprocesses: { web: x }\n' });
    const started = Date.now();
    await assert.rejects(runBuild({ ...sb.options(), ref: 'main', timeoutMs: 1500 }), {
      code: 'NOOPS_E_BUILD_FAILED',
      message: 'the build command "sleep 30 & sleep 30" was still running at the build\'s time limit (1500 ms) and was killed',
    });
    assert.ok(Date.now() - started < 30_000, 'killed at the time limit, not waited for until the sleeps end');
    await assertNothingLeft(sb);
  }));

test("a repository that does not exist is NOOPS_E_GIT_CLONE with git's words", () =>
  inSandbox(async (sb) => {
    await assert.rejects(runBuild({ ...sb.options(), repo: join(sb.root, 'nope'), ref: 'main' }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'NOOPS_E_GIT_CLONE');
      assert.match(err.message, /^git clone of .*nope failed: .*does not exist/);
      return true;
    });
    await assertNothingLeft(sb);
  }));

test('an unknown ref is NOOPS_E_GIT_CHECKOUT', () =>
  inSandbox(async (sb) => {
    await sb.repo.commit({ Procfile: 'web: x\n' });
    for (const ref of ['no-such-branch', 'deadbeef1', 'main..main']) {
      await assert.rejects(runBuild({ ...sb.options(), ref }), {
        code: 'NOOPS_E_GIT_CHECKOUT',
        message: `"${ref}" names no commit of the repository (not a commit, tag or branch)`,
      });
    }
    await assertNothingLeft(sb);
  }));

test('a repo or ref that git would read as an option is refused before git runs', () =>
  inSandbox(async (sb) => {
    const marker = join(sb.root, 'pwned');
    const cases = [
      { repo: `--upload-pack=touch ${marker}`, ref: 'main', code: 'NOOPS_E_GIT_URL' },
      { repo: '-u', ref: 'main', code: 'NOOPS_E_GIT_URL' },
      { repo: '', ref: 'main', code: 'NOOPS_E_GIT_URL' },
      { repo: 'x\n--upload-pack=y', ref: 'main', code: 'NOOPS_E_GIT_URL' },
      { repo: sb.repo.dir, ref: `--output=${marker}`, code: 'NOOPS_E_GIT_REF' },
      { repo: sb.repo.dir, ref: '-p', code: 'NOOPS_E_GIT_REF' },
    ];
    for (const c of cases) await assert.rejects(runBuild({ ...sb.options(), repo: c.repo, ref: c.ref }), { code: c.code });
    assert.deepEqual(sb.log, [], 'git never ran');
    await assert.rejects(access(sb.workDir), 'not even the work folder was made');
    await assert.rejects(access(marker));
  }));

test('an ext:: URL, which would run a command, is refused by git', () =>
  inSandbox(async (sb) => {
    const marker = join(sb.root, 'pwned');
    await assert.rejects(runBuild({ ...sb.options(), repo: `ext::sh -c touch% ${marker}`, ref: 'main' }), { code: 'NOOPS_E_GIT_CLONE' });
    await assert.rejects(access(marker));
  }));

test('a noops.yaml that does not parse names the line', () =>
  inSandbox(async (sb) => {
    await sb.repo.commit({ 'noops.yaml': 'processes:\n  web:\n    command: x\n    port: eighty\n' });
    await assert.rejects(runBuild({ ...sb.options(), ref: 'main' }), {
      code: 'NOOPS_E_MANIFEST',
      message: 'noops.yaml:4: processes.web.port: expected a number, "auto" or null',
    });
    await assertNothingLeft(sb);
  }));

test('no process to run is NOOPS_E_NO_PROCESSES', () =>
  inSandbox(async (sb) => {
    await sb.repo.commit({ 'README.md': 'hi' });
    await assert.rejects(runBuild({ ...sb.options(), ref: 'main' }), { code: 'NOOPS_E_NO_PROCESSES' });
    await assertNothingLeft(sb);
  }));

test('a symlink out of the checkout, absolute or by .., is NOOPS_E_PACKAGE_UNSAFE', () =>
  inSandbox(async (sb) => {
    await sb.repo.commit({ Procfile: 'web: x\n', 'etc/passwd': { symlink: '/etc/passwd' } });
    await assert.rejects(runBuild({ ...sb.options(), ref: 'main' }), {
      code: 'NOOPS_E_PACKAGE_UNSAFE',
      message: 'the symlink etc/passwd -> /etc/passwd is absolute',
    });
    sb.repo.git('rm', '--quiet', 'etc/passwd');
    await sb.repo.commit({ 'a/up': { symlink: '..' }, escape: { symlink: 'a/up/..' }, 'b/deep': { symlink: '../../../x' } });
    await assert.rejects(runBuild({ ...sb.options(), ref: 'main' }), {
      code: 'NOOPS_E_PACKAGE_UNSAFE',
      message: /^the symlink (escape -> a\/up\/\.\.|b\/deep -> \.\.\/\.\.\/\.\.\/x) points outside the package$/,
    });
    await assertNothingLeft(sb);
  }));

test('a symlink made by the build is checked too; an excluded one is ignored', () =>
  inSandbox(async (sb) => {
    await sb.repo.commit({ 'noops.yaml': 'build: ln -s ../../.. cache\nprocesses: { web: x }\n' });
    await assert.rejects(runBuild({ ...sb.options(), ref: 'main' }), { code: 'NOOPS_E_PACKAGE_UNSAFE' });
    await sb.repo.commit({ 'noops.yaml': 'build: ln -s ../../.. cache\nprocesses: { web: x }\nexclude: [cache]\n' });
    const r = await runBuild({ ...sb.options(), ref: 'main' });
    assert.deepEqual((await sb.entries(r.sha256)).sort(), ['manifest.json', 'noops.yaml']);
  }));

test("a manifest.json of the repository's own at its root is NOOPS_E_PACKAGE_INVALID", () =>
  inSandbox(async (sb) => {
    await sb.repo.commit({ Procfile: 'web: x\n', 'manifest.json': '{}' });
    await assert.rejects(runBuild({ ...sb.options(), ref: 'main' }), { code: 'NOOPS_E_PACKAGE_INVALID' });
    await assertNothingLeft(sb);
  }));

test('a noops.yml is not silently ignored', () =>
  inSandbox(async (sb) => {
    await sb.repo.commit({ 'noops.yml': 'processes: { web: x }\n' });
    await assert.rejects(runBuild({ ...sb.options(), ref: 'main' }), {
      code: 'NOOPS_E_MANIFEST',
      message: 'the manifest is named noops.yml; noops reads noops.yaml',
    });
  }));
