import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import test from 'node:test';
import { PeerRefused } from './fetch-pieces.js';
import { MAX_HEADER_BYTES, readRange } from './peer-socket.js';

const PATH = { path: '/v1/packages/x', host: 'peer' };

/** A peer on loopback that answers every request with `answer(request, socket)`; counts connections and requests. */
async function scripted(
  answer: (request: string, socket: Socket) => void,
): Promise<{ server: Server; port: number; connections: number; requests: string[] }> {
  const peer = { server: undefined as unknown as Server, port: 0, connections: 0, requests: [] as string[] };
  peer.server = createServer((socket) => {
    peer.connections++;
    let pending = '';
    socket.on('data', (b) => {
      pending += b.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const request = pending.slice(0, end);
        pending = pending.slice(end + 4);
        peer.requests.push(request);
        answer(request, socket);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => peer.server.listen(0, '127.0.0.1', r));
  peer.port = (peer.server.address() as { port: number }).port;
  return peer;
}

async function close(peer: { server: Server }): Promise<void> {
  peer.server.close();
  (peer.server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
}

/** The range a request asked for, from its `range` header. */
function asked(request: string): { start: number; end: number } {
  const m = /\r\nrange: bytes=(\d+)-(\d+)/.exec(request)!;
  return { start: Number(m[1]), end: Number(m[2]) + 1 };
}

const head = (status: string, length: number, extra = ''): string =>
  `HTTP/1.1 ${status}\r\ncontent-type: application/octet-stream\r\ncontent-length: ${length}\r\n${extra}\r\n`;

const read = (port: number, piece: Buffer, range: string, timeoutMs = 5_000, signal?: AbortSignal): Promise<void> =>
  readRange('127.0.0.1', port, PATH, { range, authorization: 'NoopsTicket t' }, piece, signal, timeoutMs);

test('ranges come whole into the piece, in any chunking, over connections kept between pieces', async (t) => {
  const pkg = randomBytes(3 * 1024 * 1024 + 123);
  // the answer in small writes: the head cut in the middle, the body in uneven slices
  const peer = await scripted((request, socket) => {
    const { start, end } = asked(request);
    const bytes = Buffer.concat([Buffer.from(head('206 Partial Content', end - start)), pkg.subarray(start, end)]);
    for (let at = 0, n = 7; at < bytes.length; at += n, n = n * 3 + 1) socket.write(bytes.subarray(at, Math.min(bytes.length, at + n)));
  });
  t.after(() => close(peer));
  const ranges = [
    [0, 1024 * 1024],
    [1024 * 1024, 1024 * 1024],
    [3 * 1024 * 1024, 123],
    [5, 17],
  ] as const;
  for (let round = 0; round < 3; round++) {
    await Promise.all(
      ranges.map(async ([offset, length]) => {
        const piece = Buffer.alloc(length, 0xee);
        await read(peer.port, piece, `bytes=${offset}-${offset + length - 1}`);
        assert.ok(piece.equals(pkg.subarray(offset, offset + length)), `bytes ${offset}+${length}`);
      }),
    );
  }
  assert.equal(peer.requests.length, 12);
  assert.ok(peer.connections <= 4, `${peer.connections} connections for 12 pieces, 4 at a time`);
  assert.match(peer.requests[0]!, /^GET \/v1\/packages\/x HTTP\/1\.1\r\nhost: peer\r\n/);
  assert.match(peer.requests[0]!, /\r\nauthorization: NoopsTicket t(\r\n|$)/);
});

test('attack: a peer that answers anything but the range asked for is refused; its connection is kept only after a whole short refusal', async (t) => {
  // `kept`: the refusal's body came whole with its head (a busy peer's 503), so the connection serves the next piece
  const cases: { name: string; send: (length: number) => string | Buffer; why: 'busy' | 'gone'; message: RegExp; kept: boolean }[] = [
    {
      name: 'busy',
      send: () => `HTTP/1.1 503 Service Unavailable\r\ncontent-length: 5\r\n\r\nbusy\n`,
      why: 'busy',
      message: /answered 503/,
      kept: true,
    },
    { name: 'whole', send: (n) => head('200 OK', n) + 'x'.repeat(n), why: 'gone', message: /answered 200/, kept: true },
    {
      name: 'refusal cut short',
      send: () => `HTTP/1.1 416 Range Not Satisfiable\r\ncontent-length: 50\r\n\r\nno`,
      why: 'gone',
      message: /answered 416/,
      kept: false,
    },
    { name: 'not http', send: () => 'SSH-2.0-OpenSSH\r\n\r\n', why: 'gone', message: /HTTP\/1\.1/, kept: false },
    {
      name: 'chunks',
      send: (n) => `HTTP/1.1 206 Partial Content\r\ntransfer-encoding: chunked\r\n\r\n${n.toString(16)}\r\n`,
      why: 'gone',
      message: /chunks/,
      kept: false,
    },
    { name: 'shorter', send: (n) => head('206 Partial Content', n - 1), why: 'gone', message: /sent 9 bytes for the 10/, kept: false },
    { name: 'longer', send: (n) => head('206 Partial Content', n + 1), why: 'gone', message: /sent 11 bytes for the 10/, kept: false },
    {
      name: 'two lengths',
      send: (n) => head('206 Partial Content', n, `content-length: ${n}\r\n`),
      why: 'gone',
      message: /no single content-length/,
      kept: false,
    },
    {
      name: 'more than its length',
      send: (n) => head('206 Partial Content', n) + 'y'.repeat(n + 5000),
      why: 'gone',
      message: /longer than the 10 bytes/,
      kept: false,
    },
    {
      name: 'endless head',
      send: () => `HTTP/1.1 206 Partial Content\r\n${'x-pad: 0123456789\r\n'.repeat(MAX_HEADER_BYTES / 16)}`,
      why: 'gone',
      message: /more than 8192 bytes of headers/,
      kept: false,
    },
  ];
  for (const c of cases) {
    // the first request on each connection gets the bad answer, the next one a good one
    const answered = new WeakSet<Socket>();
    const peer = await scripted((request, socket) => {
      if (answered.has(socket)) {
        const { start, end } = asked(request);
        socket.write(head('206 Partial Content', end - start) + 'g'.repeat(end - start));
        return;
      }
      answered.add(socket);
      socket.write(c.send(10));
    });
    t.after(() => close(peer));
    const piece = Buffer.alloc(10);
    await assert.rejects(read(peer.port, piece, 'bytes=0-9'), (err: Error) => {
      assert.ok(err instanceof PeerRefused, `${c.name}: ${err.message}`);
      assert.equal(err.why, c.why, c.name);
      assert.match(err.message, c.message, c.name);
      return true;
    });
    // nothing left of the bad answer is read as the next one: on the kept connection, or on a new one
    await (c.kept ? read(peer.port, piece, 'bytes=0-9') : assert.rejects(read(peer.port, piece, 'bytes=0-9'), PeerRefused));
    if (c.kept) assert.equal(piece.toString(), 'gggggggggg', c.name);
    assert.equal(peer.connections, c.kept ? 1 : 2, `${c.name}: the connection was ${c.kept ? 'not ' : ''}kept`);
  }
});

test('a peer that breaks off, or sends nothing, fails the piece; an abort stops it at once', async (t) => {
  const broken = await scripted((_request, socket) => {
    socket.write(head('206 Partial Content', 1000) + 'z'.repeat(400));
    setTimeout(() => socket.destroy(), 20);
  });
  t.after(() => close(broken));
  await assert.rejects(
    read(broken.port, Buffer.alloc(1000), 'bytes=0-999'),
    (err: Error) => err instanceof PeerRefused && /closed the connection/.test(err.message),
  );

  const silent = await scripted(() => undefined);
  t.after(() => close(silent));
  await assert.rejects(read(silent.port, Buffer.alloc(10), 'bytes=0-9', 300), /did not send the piece in 0\.3 s/);

  const controller = new AbortController();
  const pending = read(silent.port, Buffer.alloc(10), 'bytes=0-9', 30_000, controller.signal);
  setTimeout(() => controller.abort(new Error('stopped')), 50);
  await assert.rejects(pending, /stopped/);
  await assert.rejects(read(silent.port, Buffer.alloc(10), 'bytes=0-9', 30_000, AbortSignal.abort(new Error('before'))), /before/);
});

test('a kept connection the peer closed while idle: the next piece goes on a new one', async (t) => {
  // the peer answers, then closes each connection a moment later (its keep-alive timeout)
  const peer = await scripted((request, socket) => {
    const { start, end } = asked(request);
    socket.write(head('206 Partial Content', end - start) + 'k'.repeat(end - start));
    setTimeout(() => socket.end(), 30);
  });
  t.after(() => close(peer));
  for (let i = 0; i < 3; i++) {
    const piece = Buffer.alloc(8);
    await read(peer.port, piece, 'bytes=0-7');
    assert.equal(piece.toString(), 'kkkkkkkk');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(peer.connections, 3);
});

test('attack: a line break in what is asked is refused before anything is sent', async (t) => {
  const peer = await scripted(() => undefined);
  t.after(() => close(peer));
  await assert.rejects(
    readRange(
      '127.0.0.1',
      peer.port,
      PATH,
      { range: 'bytes=0-9', authorization: 'NoopsTicket t\r\nx-evil: 1' },
      Buffer.alloc(10),
      undefined,
      1000,
    ),
    /cannot hold a line break/,
  );
  assert.equal(peer.connections, 0);
});

test('a kept connection the peer closes as it is reused (no byte of an answer): the piece is asked again on a new one, once', async (t) => {
  // each connection answers its first request and drops at its second, as a peer whose keep-alive ran out just then
  const served = new WeakMap<Socket, number>();
  const peer = await scripted((request, socket) => {
    const n = (served.get(socket) ?? 0) + 1;
    served.set(socket, n);
    if (n > 1) return socket.destroy();
    const { start, end } = asked(request);
    socket.write(head('206 Partial Content', end - start) + 'r'.repeat(end - start));
  });
  t.after(() => close(peer));
  for (let i = 0; i < 3; i++) {
    const piece = Buffer.alloc(6);
    await read(peer.port, piece, 'bytes=0-5');
    assert.equal(piece.toString(), 'rrrrrr');
  }
  // the first on a new connection; each next one on the kept one (dropped), then again on a new one
  assert.equal(peer.connections, 3);
  assert.equal(peer.requests.length, 5);
});
