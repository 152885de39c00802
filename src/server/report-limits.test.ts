import { request } from 'node:http';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_PREFIX } from '../api/index.js';
import { ApiClient } from '../api/index.js';
import { startServer } from './index.js';
import { RateLimiter, REPORT_BURST, REPORT_MAX_BYTES } from './report-limits.js';

test('RateLimiter: a burst, then the rate; the wait it answers is when a token is free', () => {
  const rate = new RateLimiter(2, 3);
  assert.deepEqual(
    [0, 0, 0].map(() => rate.take('h', 1000)),
    [0, 0, 0],
  );
  assert.equal(rate.take('h', 1000), 500, 'empty: one token in 1/2 s');
  assert.equal(rate.take('h', 1500), 0, 'refilled by then');
  assert.equal(rate.take('other', 1500), 0, 'each key has its own bucket');
  assert.equal(rate.take('h', 100_000), 0);
});

test('RateLimiter: past maxKeys the least recently used bucket is forgotten', () => {
  const rate = new RateLimiter(1, 1, 2);
  rate.take('a', 0);
  rate.take('b', 0);
  rate.take('c', 0); // forgets a
  assert.equal(rate.take('a', 0), 0, 'a starts full again');
  assert.ok(rate.take('c', 0) > 0);
});

test('the report route: 413 with its code past REPORT_MAX_BYTES (nothing stored), 429 with Retry-After past the rate', {
  timeout: 30_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-report-limits-'));
  const server = await startServer({ dataDir: dir, listen: '127.0.0.1:0' });
  try {
    const joiner = new ApiClient(server.url, readFileSync(server.joinTokenFile, 'utf8').trim());
    const { token } = await joiner.join({ name: 'h1', labels: {} });
    const post = (body: string): Promise<Response> =>
      fetch(`${server.url}${API_PREFIX}/agent/report`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      });
    const big = JSON.stringify({
      processes: [],
      failures: [{ tag: 'x', version: 'v', error: 'e'.repeat(REPORT_MAX_BYTES) }],
      generation: 0,
    });
    const res = await post(big);
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { code: string }).code, 'NOOPS_E_REPORT_TOO_LARGE');
    assert.equal(server.ctx.reports.lastReport('h1'), undefined, 'nothing of it was kept');

    // without a length (chunked) the body is counted as it streams: cut at the limit, a small one taken
    const chunked = (body: string): Promise<{ status: number; text: string }> =>
      new Promise((resolve, reject) => {
        const req = request(`${server.url}${API_PREFIX}/agent/report`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        });
        req.on('response', (r) => {
          let text = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => {
            text += c;
          });
          r.on('end', () => resolve({ status: r.statusCode ?? 0, text }));
        });
        req.on('error', reject);
        for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.slice(at, at + 64 * 1024));
        req.end();
      });
    const cut = await chunked(big);
    assert.equal(cut.status, 413, cut.text);
    assert.equal((JSON.parse(cut.text) as { code: string }).code, 'NOOPS_E_REPORT_TOO_LARGE');
    assert.equal(server.ctx.reports.lastReport('h1'), undefined, 'nothing of it was kept');
    const small = await chunked(JSON.stringify({ processes: [], failures: [], generation: 0 }));
    assert.equal(small.status, 200, small.text);

    const ok = JSON.stringify({ processes: [], failures: [], generation: 0 });
    // The clock stands still while the reports arrive: on a loaded machine 200 requests may take
    // longer to arrive than the bucket takes to refill, and then none would be refused.
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const answers = await Promise.all(Array.from({ length: REPORT_BURST + 160 }, () => post(ok)));
    t.mock.timers.reset();
    const limited = answers.filter((a) => a.status === 429);
    assert.ok(limited.length >= 10, `${limited.length} of ${answers.length} refused`);
    assert.ok(Number(limited[0]!.headers.get('retry-after')) >= 1);
    assert.equal(((await limited[0]!.json()) as { code: string }).code, 'NOOPS_E_RATE_LIMITED');
    assert.ok(answers.some((a) => a.status === 200));
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
