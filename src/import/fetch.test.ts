import { test } from 'node:test';
import assert from 'node:assert/strict';
import { text } from 'node:stream/consumers';
import { checkUrl, openUrl, type Fetcher } from './fetch.js';

const answer =
  (status: number, body: string, headers: Record<string, string> = {}): Fetcher =>
  async () =>
    new Response(body, { status, headers });

test('only http(s) URLs are fetched', () => {
  assert.equal(checkUrl('https://ci.example.com/a.tar.gz').host, 'ci.example.com');
  assert.throws(() => checkUrl('file:///etc/passwd'), {
    code: 'NOOPS_E_INPUT',
    message: '"file:///etc/passwd" is a file URL: only http:// and https:// packages are fetched',
  });
  assert.throws(() => checkUrl('ci/a.tar.gz'), {
    code: 'NOOPS_E_INPUT',
    message: '"ci/a.tar.gz" is not a URL: give an http:// or https:// URL of the package',
  });
});

test('a 2xx answer is the package, as a stream', async () => {
  assert.equal(await text(await openUrl('http://x/p', { fetcher: answer(200, 'bytes') })), 'bytes');
});

test('every failure is NOOPS_E_PACKAGE_FETCH naming the URL', async () => {
  await assert.rejects(openUrl('http://x/p', { fetcher: answer(404, 'no') }), {
    code: 'NOOPS_E_PACKAGE_FETCH',
    message: 'cannot fetch http://x/p: the server answered HTTP 404',
  });
  await assert.rejects(openUrl('http://x/p', { fetcher: answer(200, '0123456789', { 'content-length': '10' }), maxBytes: 5 }), {
    code: 'NOOPS_E_PACKAGE_FETCH',
    message: 'cannot fetch http://x/p: it is 10 bytes, more than the 5 a package may be',
  });
  const down: Fetcher = async () => {
    throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') });
  };
  await assert.rejects(openUrl('http://x/p', { fetcher: down }), {
    code: 'NOOPS_E_PACKAGE_FETCH',
    message: 'cannot fetch http://x/p: connect ECONNREFUSED 127.0.0.1:9',
  });
});
