import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRef, checkRepo, checkoutArgs, cloneArgs, gitEnv, redactRepo, revParseArgs } from './git.js';

test('git argv: options first, then -- or --end-of-options, then the input', () => {
  const safe = ['-c', 'core.hooksPath=/dev/null', '-c', 'protocol.ext.allow=never'];
  assert.deepEqual(cloneArgs('https://h/x.git', '/w/src'), [
    ...safe,
    'clone',
    '--quiet',
    '--no-checkout',
    '--',
    'https://h/x.git',
    '/w/src',
  ]);
  assert.deepEqual(revParseArgs('v1.2'), [...safe, 'rev-parse', '--verify', '--quiet', '--end-of-options', 'v1.2^{commit}']);
  assert.deepEqual(checkoutArgs('15b2980f8a1c0e4d5b6a7f8e9d0c1b2a3f4e5d6c'), [
    ...safe,
    'checkout',
    '--quiet',
    '--detach',
    '15b2980f8a1c0e4d5b6a7f8e9d0c1b2a3f4e5d6c',
    '--',
  ]);
});

test('repositories and refs that git could read as options, or that hold line breaks, are refused', () => {
  for (const repo of ['', ' ', '-u', '--upload-pack=touch /tmp/x', 'a\nb', 'a\0b'])
    assert.throws(() => checkRepo(repo), { code: 'NOOPS_E_GIT_URL' });
  for (const ref of ['', '-p', '--output=/tmp/x', 'main\n']) assert.throws(() => checkRef(ref), { code: 'NOOPS_E_GIT_REF' });
  checkRepo('git@github.com:acme/shop.git');
  checkRef('15b2980f8');
});

test('passwords in URLs are redacted', () => {
  assert.equal(redactRepo('https://bob:s3cret@git.example.com/x.git'), 'https://bob@git.example.com/x.git');
  assert.equal(redactRepo("fatal: repository 'https://bob:s3cret@h/x/' not found"), "fatal: repository 'https://bob@h/x/' not found");
  assert.equal(redactRepo('git@github.com:acme/shop.git'), 'git@github.com:acme/shop.git');
  assert.equal(redactRepo('/srv/git/shop.git'), '/srv/git/shop.git');
});

test('git never prompts and never uses another repository', () => {
  assert.deepEqual(gitEnv({ PATH: '/bin', GIT_DIR: '/elsewhere/.git', GIT_WORK_TREE: '/elsewhere' }), {
    PATH: '/bin',
    GIT_TERMINAL_PROMPT: '0',
  });
});
