/** `noops runtime add` from an http(s) URL, against a real local HTTP server (and a real noops server). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../api/index.js';
import { sha256File } from '../../artifacts/index.js';
import { makeTarball } from '../../runtimes/test-runtimes.js';
import { startServer } from '../../server/index.js';
import { program } from '../main.js';
import { exportsOf, openSource } from './runtime.js';

/** Serves `file` at /tool.tgz, a redirect to it at /moved, and 404 for anything else. */
async function tarballServer(file: string): Promise<{ url: string; server: Server }> {
  const body = readFileSync(file);
  const server = createServer((req, res) => {
    if (req.url === '/tool.tgz') res.writeHead(200, { 'content-type': 'application/gzip' }).end(body);
    else if (req.url === '/moved') res.writeHead(302, { location: '/tool.tgz' }).end();
    else res.writeHead(404).end('not here');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function bytesOf(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** A port nothing listens on: one the system gave and took back. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

test('an http URL is streamed as it is served, redirects followed; a 404 or no server is a clear NOOPS_E_INPUT', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-rt-url-'));
  const tarball = await makeTarball(dir, { 'bin/tool': { text: '#!/bin/sh\n', mode: 0o755 } });
  const { url, server } = await tarballServer(tarball);
  try {
    const file = readFileSync(tarball);
    for (const path of ['/tool.tgz', '/moved']) {
      const src = await openSource(`${url}${path}`);
      assert.equal(src.what, `${url}${path}`);
      assert.deepEqual(await bytesOf(src.body), file, `${path}: the tarball, byte for byte`);
      src.cleanup();
    }
    await assert.rejects(openSource(`${url}/nope.tgz`), { code: 'NOOPS_E_INPUT', message: `cannot download ${url}/nope.tgz: HTTP 404` });
    const refused = `http://127.0.0.1:${await closedPort()}/tool.tgz`;
    await assert.rejects(openSource(refused), (err: Error & { code?: string; cause?: unknown }) => {
      assert.equal(err.code, 'NOOPS_E_INPUT');
      assert.match(err.message, new RegExp(`^cannot download ${refused}: `));
      assert.ok(err.cause, 'the network error is kept as the cause');
      return true;
    });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--path and --env: exports in the order given; without them the server's defaults; a bad --env is refused", () => {
  assert.deepEqual(exportsOf(['bin', 'libexec'], ['TOOL_HOME={dir}', 'TOOL_OPTS=-a=b'], 'tool'), {
    path: ['bin', 'libexec'],
    env: { TOOL_HOME: '{dir}', TOOL_OPTS: '-a=b' },
  });
  assert.deepEqual(exportsOf(undefined, ['X=1'], 'jdk'), { path: ['bin'], env: { X: '1' } }, '--env replaces the well-known home');
  assert.deepEqual(exportsOf(['sbin'], undefined, 'jdk'), { path: ['sbin'], env: { JAVA_HOME: '{dir}' } });
  assert.equal(exportsOf(undefined, undefined, 'node'), undefined);
  assert.throws(() => exportsOf(undefined, ['NOVALUE'], 'x'), { code: 'NOOPS_E_INPUT', message: /--env "NOVALUE" is not NAME=VALUE/ });
});

test('noops runtime add NAME VERSION URL: the served tarball becomes the runtime, with the exports given', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-rt-add-'));
  const file = await makeTarball(
    dir,
    { 'bin/tool': { text: '#!/bin/sh\n', mode: 0o755 }, 'libexec/helper': { text: '#!/bin/sh\n', mode: 0o755 } },
    'tool-1.0',
  );
  const web = await tarballServer(file);
  const noops = await startServer({ dataDir: join(dir, 'server'), listen: '127.0.0.1:0' });
  try {
    const token = readFileSync(noops.adminTokenFile, 'utf8').trim();
    const cli = (...args: string[]): Promise<unknown> =>
      program().parseAsync(['--server', noops.url, '--token', token, ...args], { from: 'user' });
    await cli('runtime', 'add', 'tool', '1.0', `${web.url}/tool.tgz`, '--path', 'bin', '--path', 'libexec', '--env', 'TOOL_HOME={dir}');
    await assert.rejects(cli('runtime', 'add', 'tool', '2.0', `${web.url}/missing.tgz`), { code: 'NOOPS_E_INPUT', message: /HTTP 404$/ });
    const rows = await new ApiClient(noops.url, token).runtimes();
    assert.equal(rows.length, 1, 'nothing was added from the 404');
    const [rt] = rows;
    assert.deepEqual([rt?.name, rt?.version, rt?.platform, rt?.sha256], ['tool', '1.0', 'any', await sha256File(file)]);
    assert.deepEqual(rt?.exports, { path: ['bin', 'libexec'], env: { TOOL_HOME: '{dir}' } });
  } finally {
    await noops.close();
    web.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
