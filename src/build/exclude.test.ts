import { test } from 'node:test';
import assert from 'node:assert/strict';
import { excludeMatcher, globToRegExp } from './exclude.js';

test('globs become anchored regular expressions', () => {
  assert.deepEqual(globToRegExp('src/**/*.test.js'), /^src\/(?:.*\/)?[^/]*\.test\.js$/);
  assert.deepEqual(globToRegExp('./docs/'), /^docs$/);
  assert.deepEqual(globToRegExp('a?c/**'), /^a[^/]c\/.*$/);
  assert.deepEqual(globToRegExp('x+(y).md'), /^x\+\(y\)\.md$/);
});

test('a matched folder takes its content; * stays in a segment; ** crosses', () => {
  const excluded = excludeMatcher(['docs', '*.md', '**/*.log', 'test/**', 'tmp/']);
  const cases: Array<[string, boolean]> = [
    ['docs', true],
    ['docs/a/b.txt', true],
    ['docsx', false],
    ['README.md', true],
    ['src/x.md', false],
    ['x.log', true],
    ['src/deep/x.log', true],
    ['test', false], // test/** matches what is in test, not the folder itself
    ['test/a.js', true],
    ['tmp/cache/x', true],
    ['src/index.js', false],
  ];
  assert.deepEqual(
    cases.map(([path]) => [path, excluded(path)]),
    cases,
  );
});

test('no patterns exclude nothing', () => {
  assert.equal(excludeMatcher([])('anything'), false);
});
