import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, resolveVersion } from './resolve.js';
import { checkExports, defaultExports, runtimeEnv } from './exports.js';
import { checkPlatform, elfPlatform, platformProblem } from './platform.js';
import { runtimesToRemove } from './prune.js';
import { findRoot } from './inspect.js';
import { elfHeader } from './test-runtimes.js';

test('versions sort part by part, numbers as numbers', () => {
  const sorted = ['22.1.0', '18.20.4', '18.9.0', '18.20.4-rc1', '8', '17.0.11+9'].sort(compareVersions);
  assert.deepEqual(sorted, ['8', '17.0.11+9', '18.9.0', '18.20.4', '18.20.4-rc1', '22.1.0']);
});

test('a wanted version: exact, a prefix at a separator, or * for the newest', () => {
  const known = ['18.9.0', '18.20.4', '22.1.0', '180.1'];
  assert.equal(resolveVersion('18.9.0', known), '18.9.0');
  assert.equal(resolveVersion('18', known), '18.20.4');
  assert.equal(resolveVersion('18.20', known), '18.20.4');
  assert.equal(resolveVersion('*', known), '180.1');
  assert.equal(resolveVersion('1', known), undefined);
  assert.equal(resolveVersion('20', known), undefined);
  assert.equal(resolveVersion('*', []), undefined);
});

test('exports: bin on PATH and the well-known home by default; {dir} is the runtime folder', () => {
  assert.deepEqual(defaultExports('node'), { path: ['bin'], env: { NODE_HOME: '{dir}' } });
  assert.deepEqual(defaultExports('jdk'), { path: ['bin'], env: { JAVA_HOME: '{dir}' } });
  assert.deepEqual(defaultExports('tool'), { path: ['bin'], env: {} });
  const env = runtimeEnv(
    [
      { exports: defaultExports('jdk'), dir: '/r/runtimes/jdk/17' },
      { exports: { path: ['bin', 'libexec/'], env: { MAVEN_HOME: '{dir}', MAVEN_OPTS: '-Xmx1g' } }, dir: '/r/runtimes/maven/3.9' },
    ],
    '/usr/bin:/bin',
  );
  assert.deepEqual(env, {
    PATH: '/r/runtimes/jdk/17/bin:/r/runtimes/maven/3.9/bin:/r/runtimes/maven/3.9/libexec:/usr/bin:/bin',
    JAVA_HOME: '/r/runtimes/jdk/17',
    MAVEN_HOME: '/r/runtimes/maven/3.9',
    MAVEN_OPTS: '-Xmx1g',
  });
  assert.deepEqual(runtimeEnv([], undefined), {});
});

test('exports a person gives are checked', () => {
  assert.throws(() => checkExports({ path: ['../x'], env: {} }), { code: 'NOOPS_E_INPUT', message: /export path "\.\.\/x"/ });
  assert.throws(() => checkExports({ path: ['/usr/bin'], env: {} }), { code: 'NOOPS_E_INPUT' });
  assert.throws(() => checkExports({ path: [], env: { PATH: 'x' } }), { message: 'PATH is exported with --path DIR, not --env' });
  assert.throws(() => checkExports({ path: [], env: { '1A': 'x' } }), { message: /is not a variable name/ });
});

test('platforms: read from ELF headers, compared with host labels', () => {
  assert.equal(elfPlatform(elfHeader(0x3e)), 'linux/x64');
  assert.equal(elfPlatform(elfHeader(0xb7)), 'linux/arm64');
  assert.equal(elfPlatform(Buffer.from('#!/bin/sh\nexec java "$@"\n')), null);
  assert.equal(elfPlatform(elfHeader(0x9999)), null);
  assert.equal(checkPlatform('linux/x64'), 'linux/x64');
  assert.throws(() => checkPlatform('linux-x64'), { code: 'NOOPS_E_INPUT' });
  assert.equal(platformProblem('any', {}), null);
  assert.equal(platformProblem('linux/x64', { os: 'linux', arch: 'x64' }), null);
  assert.equal(platformProblem('linux/arm64', { os: 'linux', arch: 'x64' }), 'it is for linux/arm64 and the host is linux/x64');
  assert.match(platformProblem('linux/x64', { rack: 'r1' })!, /the host does not say its platform \(labels os and arch/);
});

test('bin/ at the top, or under one top folder', () => {
  assert.equal(findRoot(['bin/', 'bin/node', 'lib/x']), '');
  assert.equal(findRoot(['package/', 'package/bin/node', 'package/LICENSE']), 'package');
  assert.throws(() => findRoot(['a/bin/x', 'b/bin/y']), { code: 'NOOPS_E_PACKAGE_INVALID', message: /this tarball has at its top: a, b$/ });
  assert.throws(() => findRoot(['package/lib/x']), { message: /only package\/ without bin\/ in it/ });
});

test('prune picks runtimes unused for longer than the keep time, never one in use', () => {
  const installed = [
    { name: 'node', version: '18.20.4', installedAt: '2024-01-01T00:00:00.000Z' },
    { name: 'node', version: '22.1.0', installedAt: '2024-01-01T00:00:00.000Z' },
    { name: 'jdk', version: '17', installedAt: '2024-01-01T00:00:00.000Z' },
  ];
  const now = Date.parse('2024-01-03T00:00:00.000Z');
  const day = 24 * 3600_000;
  const lastUsed = { 'node@22.1.0': now - day / 2 };
  assert.deepEqual(runtimesToRemove(installed, new Set(['node@18.20.4']), lastUsed, now, day), ['jdk@17']);
  assert.deepEqual(runtimesToRemove(installed, new Set(), lastUsed, now, day), ['node@18.20.4', 'jdk@17']);
  assert.deepEqual(runtimesToRemove(installed, new Set(), lastUsed, now, 3 * day), []);
});
