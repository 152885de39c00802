/** The fleet workers' lean fetch against a real node:http server, read by the real ApiClient as the agents read it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient } from '../../src/api/index.js';
import { NoopsError } from '../../src/errors/index.js';
import { leanFetch } from './lean-fetch.js';

test("answers as fetch's: status, text, JSON, headers, an empty 204, a body on demand; ApiClient reads them through it", async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'} ${req.headers['x-one'] ?? '-'} ${body}`);
      if (req.url === '/api/v1/whoami')
        return res.writeHead(200, { 'content-type': 'application/json' }).end('{"kind":"host","name":"h1"}');
      if (req.url === '/api/v1/hosts')
        return res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"code":"NOOPS_E_NOT_FOUND","message":"no such thing","hint":"look"}');
      if (req.url === '/empty') return res.writeHead(204).end();
      if (req.url?.startsWith('/api/v1/artifacts/')) {
        const size = Number(req.url.split('/').at(-1));
        return res.writeHead(200, { 'content-length': size }).end(Buffer.alloc(size, 7));
      }
      res.writeHead(200, { 'x-noops-next': 'k2', 'set-cookie': ['a=1', 'b=2'] }).end('héllo');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const plain = await leanFetch(`${url}/plain`, { method: 'POST', headers: { 'x-one': '1' }, body: 'ping' });
    assert.deepEqual(
      [plain.status, plain.ok, plain.headers.get('x-noops-next'), plain.headers.get('set-cookie')],
      [200, true, 'k2', 'a=1, b=2'],
    );
    assert.equal(await plain.text(), 'héllo');
    const again = await leanFetch(`${url}/plain`, { headers: new Headers({ 'X-One': '2' }) });
    assert.equal(new TextDecoder().decode(await new Response(again.body).arrayBuffer()), 'héllo', 'the body as a stream');
    const empty = await leanFetch(`${url}/empty`);
    assert.deepEqual([empty.status, empty.ok, await empty.text(), empty.body], [204, true, '', null]);
    assert.deepEqual(seen.slice(0, 3), ['POST /plain - 1 ping', 'GET /plain - 2 ', 'GET /empty - - ']);
    // packages: small ones read whole, large ones streamed; the body is the bytes either way
    for (const size of [633, 1024 * 1024]) {
      const pkg = await leanFetch(`${url}/api/v1/artifacts/${size}`);
      const bytes = Buffer.from(await new Response(pkg.body).arrayBuffer());
      assert.deepEqual([pkg.status, bytes.length, bytes.every((b) => b === 7)], [200, size, true]);
    }
    seen.splice(3, 2);

    // the real client over it (the fleet workers swap globalThis.fetch the same way)
    const real = globalThis.fetch;
    globalThis.fetch = leanFetch as typeof fetch;
    try {
      const api = new ApiClient(url, 'tok');
      assert.deepEqual(await api.whoami(), { kind: 'host', name: 'h1' });
      await assert.rejects(
        api.hosts(),
        (err: NoopsError) => err instanceof NoopsError && err.code === 'NOOPS_E_NOT_FOUND' && err.hint === 'look',
      );
    } finally {
      globalThis.fetch = real;
    }
    assert.match(seen[3]!, /^GET \/api\/v1\/whoami Bearer tok /);
  } finally {
    server.close();
    server.closeAllConnections();
  }
});
