import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NoopsError } from '../errors/index.js';
import { ApiClient } from './client.js';
import { ServerList, parseServers } from './server-list.js';

const A = 'http://10.0.0.1:7700';
const B = 'http://10.0.0.2:7700';
const C = 'http://10.0.0.3:7700';

function inputError(f: () => unknown): string {
  try {
    f();
    return 'accepted';
  } catch (err) {
    assert.ok(err instanceof NoopsError);
    assert.equal(err.code, 'NOOPS_E_INPUT');
    assert.match(err.hint, /joined by commas/);
    return err.message;
  }
}

test('parseServers: a comma-separated list of http(s) URLs, trimmed, without trailing slashes', () => {
  assert.deepEqual(parseServers(`${A}/, ${B} ,${C}`, '--server'), [A, B, C]);
  assert.deepEqual(parseServers('https://noops.example:7700', 'NOOPS_SERVER'), ['https://noops.example:7700']);
  assert.deepEqual(parseServers([A, B], 'x'), [A, B]);
});

test('parseServers: a bad list is an input error naming where it came from, with a hint', () => {
  assert.equal(
    inputError(() => parseServers(`${A},${A}/`, '--server')),
    `--server: "${A}/" is given twice`,
  );
  assert.equal(
    inputError(() => parseServers(`${A},`, 'NOOPS_SERVER')),
    `NOOPS_SERVER: an empty server in "${A},"`,
  );
  assert.equal(
    inputError(() => parseServers('10.0.0.1:7700', '--server')),
    '--server: "10.0.0.1:7700" is not a URL',
  );
  assert.equal(
    inputError(() => parseServers('ftp://a', '--server')),
    '--server: "ftp://a" is not http:// or https://',
  );
  assert.equal(
    inputError(() => parseServers('not a url', '--server')),
    '--server: "not a url" is not a URL',
  );
  assert.match(
    inputError(() => parseServers('http://a/?x=1', '--server')),
    /has a query/,
  );
});

test('ServerList: starts where the random number points (spread), keeps a server until it fails, then takes the next', () => {
  assert.equal(new ServerList([A, B, C], () => 0).current(), A);
  assert.equal(new ServerList([A, B, C], () => 0.5).current(), B);
  assert.equal(new ServerList([A, B, C], () => 0.99).current(), C);
  const list = new ServerList([A, B, C], () => 0.5);
  const moves: string[] = [];
  list.onChange((from, to) => moves.push(`${from} -> ${to}`));
  assert.equal(list.failed(B), C);
  assert.equal(list.failed(B), C, 'a server already left: a second failure of it (a concurrent request) moves nothing');
  assert.equal(list.failed(C), A, 'round the end');
  assert.deepEqual(moves, [`${B} -> ${C}`, `${C} -> ${A}`]);
});

test('ServerList: leaving a server aborts what is still in flight to it; one server never moves', () => {
  const list = new ServerList([A, B], () => 0);
  const poll = list.leftSignal(A);
  assert.equal(poll.aborted, false);
  list.failed(A);
  assert.equal(poll.aborted, true);
  assert.equal(list.leftSignal(B).aborted, false);
  const one = new ServerList([A]);
  assert.equal(one.failed(A), A);
  assert.equal(one.several, false);
});

/** A local server that answers each request with `answer`. */
async function serve(
  answer: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    answer(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server };
}

/** A port nothing listens on (a server that was stopped). */
async function deadUrl(): Promise<string> {
  const s = await serve(() => undefined);
  await new Promise<void>((r) => s.server.close(() => r()));
  return s.url;
}

const json = (status: number, body: unknown) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

test('ApiClient: a server that is down is left for the next one, for any call (nothing was sent)', async () => {
  const live = await serve(json(200, { ok: true }));
  try {
    const dead = await deadUrl();
    const api = new ApiClient(new ServerList([dead, live.url], () => 0), 't');
    assert.deepEqual(await api.request('POST', '/x', {}), { ok: true });
    assert.equal(api.server, live.url, 'kept while it answers');
    assert.deepEqual(await api.request('GET', '/y'), { ok: true });
    assert.deepEqual(live.hits, ['POST /api/v1/x', 'GET /api/v1/y']);
  } finally {
    live.server.close();
  }
});

test('ApiClient: a 5xx of a failing server moves on; a GET is asked again, a POST is not', async () => {
  const failing = await serve(json(500, { code: 'NOOPS_E_INTERNAL', message: 'boom' }));
  const live = await serve(json(200, { ok: true }));
  try {
    const api = new ApiClient(new ServerList([failing.url, live.url], () => 0), 't');
    assert.deepEqual(await api.request('GET', '/y'), { ok: true });
    const post = new ApiClient(new ServerList([failing.url, live.url], () => 0), 't');
    await assert.rejects(post.request('POST', '/x', {}), (e: NoopsError) => e.code === 'NOOPS_E_INTERNAL');
    assert.equal(post.server, live.url, 'the next call goes to the next server');
    assert.deepEqual(failing.hits, ['GET /api/v1/y', 'POST /api/v1/x']);
    assert.deepEqual(live.hits, ['GET /api/v1/y']);
  } finally {
    failing.server.close();
    live.server.close();
  }
});

test('ApiClient: a 4xx, or a 5xx about the fleet, is an answer: the client stays', async () => {
  const refusing = await serve((req, res) =>
    req.url?.endsWith('/slow')
      ? json(504, { code: 'NOOPS_E_COMMAND_TIMEOUT', message: 'the agent did not answer' })(req, res)
      : json(401, { code: 'NOOPS_E_UNAUTHORIZED', message: 'no' })(req, res),
  );
  const other = await serve(json(200, { ok: true }));
  try {
    const api = new ApiClient(new ServerList([refusing.url, other.url], () => 0), 't');
    await assert.rejects(api.request('GET', '/y'), (e: NoopsError) => e.code === 'NOOPS_E_UNAUTHORIZED');
    await assert.rejects(api.request('GET', '/slow'), (e: NoopsError) => e.code === 'NOOPS_E_COMMAND_TIMEOUT');
    assert.equal(api.server, refusing.url);
    assert.deepEqual(other.hits, []);
  } finally {
    refusing.server.close();
    other.server.close();
  }
});

test('ApiClient: a server that does not answer in time is left; a POST that may have been applied is not sent again', async () => {
  const hung = await serve(() => undefined); // takes the request, never answers
  const live = await serve(json(200, { ok: true }));
  // long enough for the live server (in this process) to answer on a loaded machine: 200 ms was not
  const timeoutMs = 2_000;
  try {
    const api = new ApiClient(new ServerList([hung.url, live.url], () => 0), 't');
    assert.deepEqual(await api.request('GET', '/y', undefined, { timeoutMs }), { ok: true });
    const post = new ApiClient(new ServerList([hung.url, live.url], () => 0), 't');
    await assert.rejects(post.request('POST', '/x', {}, { timeoutMs }), (e: NoopsError) => {
      assert.equal(e.code, 'NOOPS_E_SERVER_UNREACHABLE');
      assert.match(e.hint, /may have been applied/);
      return true;
    });
    assert.deepEqual(live.hits, ['GET /api/v1/y']);
    assert.equal(post.server, live.url);
  } finally {
    hung.server.closeAllConnections();
    hung.server.close();
    live.server.close();
  }
});

test('ApiClient: no server answers: one error naming them all; one server: the error of today', async () => {
  const [d1, d2] = [await deadUrl(), await deadUrl()];
  await assert.rejects(new ApiClient(`${d1},${d2}`).request('GET', '/y'), (e: NoopsError) => {
    assert.equal(e.code, 'NOOPS_E_SERVER_UNREACHABLE');
    assert.match(e.message, new RegExp(`cannot reach any of the noops servers ${d1}, ${d2}`));
    return true;
  });
  await assert.rejects(new ApiClient(d1).request('GET', '/y'), { message: `cannot reach the noops server at ${d1}` });
});
