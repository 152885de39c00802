/** The fan-out's bare-socket polls against a real node:http server: answers read whole, in turn, on one connection. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RawConnection } from './raw-poll.js';

test('answers whole (even split across writes), in turn on one connection; an answer without a length is an error', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.url} ${req.headers.authorization} ${req.socket.remotePort}`);
    if (req.url === '/split') {
      const body = 'é'.repeat(3000); // 6,000 bytes: past one read
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.write(body.slice(0, 1000));
      setTimeout(() => res.end(body.slice(1000)), 20);
      return;
    }
    if (req.url === '/chunked') {
      res.writeHead(200);
      res.write('a');
      res.end('b');
      return;
    }
    res.writeHead(404, { 'content-length': 2 }).end('no');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const c = new RawConnection('127.0.0.1', port);
    const split = await c.get('/split', 't1');
    assert.deepEqual([split.status, split.body], [200, 'é'.repeat(3000)]);
    const missing = await c.get('/none', 't1');
    assert.deepEqual([missing.status, missing.body], [404, 'no']);
    assert.equal(new Set(seen.map((s) => s.split(' ')[2])).size, 1, 'one connection for both');
    assert.deepEqual(
      seen.map((s) => s.split(' ').slice(0, 3).join(' ')),
      ['/split Bearer t1', '/none Bearer t1'],
    );
    await assert.rejects(c.get('/chunked', 't1'), /without Content-Length/);
    c.close();
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
