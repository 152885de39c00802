import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NoopsError } from '../errors/index.js';
import { autoTlsFiles, ensureAutoTls, issueServerCert } from '../tls/server-tls.js';
import { ApiClient } from './client.js';
import { encodeEvent } from './sse.js';
import { transportError } from './transport.js';

const SANS = { dns: ['localhost'], ips: ['127.0.0.1', '::1'] };
const dirs = [mkdtempSync(join(tmpdir(), 'noops-ca1-')), mkdtempSync(join(tmpdir(), 'noops-ca2-'))];
let server: Server;
let url: string;
let ca: string;
let otherCa: string;
/** what the server saw: every request, with its authorization header */
const seen: string[] = [];

before(async () => {
  const tls = await ensureAutoTls(dirs[0]!, SANS);
  await ensureAutoTls(dirs[1]!, SANS);
  ca = readFileSync(autoTlsFiles(dirs[0]!).caCert, 'utf8');
  otherCa = readFileSync(autoTlsFiles(dirs[1]!).caCert, 'utf8');
  server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    if (req.url?.endsWith('/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(encodeEvent('log', { line: 'one' }));
      setTimeout(() => res.end(encodeEvent('log', { line: 'two' })), 50);
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify([{ name: 'h1' }]));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.close();
  server.closeAllConnections();
  dirs.forEach((d) => {
    rmSync(d, { recursive: true, force: true });
  });
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'answered';
  } catch (err) {
    return err instanceof NoopsError ? err.code : `not a NoopsError: ${(err as Error).message}`;
  }
}

test('pinned to the CA that signed the server: requests and an event stream work over https', async () => {
  const api = new ApiClient(url, 'secret', { ca });
  assert.deepEqual(await api.hosts(), [{ name: 'h1' }]);
  const lines: string[] = [];
  for await (const e of api.deploymentEvents(7)) if (e.type === 'log') lines.push(String((e.line as unknown as { line: string }).line));
  assert.deepEqual(lines, ['one', 'two']);
  assert.ok(seen.includes('GET /api/v1/hosts Bearer secret'));
});

test('without the CA, or with another CA, the client refuses in the handshake: the server never sees the request or the token', async () => {
  seen.length = 0;
  assert.equal(await codeOf(new ApiClient(url, 'secret-none').hosts()), 'NOOPS_E_TLS_UNTRUSTED');
  assert.equal(await codeOf(new ApiClient(url, 'secret-other', { ca: otherCa }).hosts()), 'NOOPS_E_TLS_UNTRUSTED');
  assert.deepEqual(seen, []);
});

test('a certificate for other names is refused; plain http to the TLS port does not get an answer', async () => {
  seen.length = 0;
  const f = autoTlsFiles(dirs[0]!);
  const elsewhere = await issueServerCert(
    { certPem: ca, keyPem: readFileSync(f.caKey, 'utf8') },
    { dns: ['cp1.example.com'], ips: [] },
    new Date(),
  );
  const other = createServer({ key: elsewhere.keyPem, cert: elsewhere.certPem }, (req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.end('[]');
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  try {
    const err = await new ApiClient(`https://127.0.0.1:${(other.address() as AddressInfo).port}`, 'secret', { ca })
      .hosts()
      .catch((e: unknown) => e as NoopsError);
    assert.equal((err as NoopsError).code, 'NOOPS_E_TLS_UNTRUSTED');
    assert.match((err as NoopsError).message, /not valid for this address/);
  } finally {
    other.close();
  }
  const port = (server.address() as AddressInfo).port;
  const plain = await new ApiClient(`http://127.0.0.1:${port}`, 'secret').hosts().catch((e: unknown) => e as NoopsError);
  assert.equal((plain as NoopsError).code, 'NOOPS_E_SERVER_UNREACHABLE');
  assert.match((plain as NoopsError).hint, /https:\/\//);
  assert.deepEqual(seen, []);
});

test('a CA for an http:// server changes nothing: the client talks plain HTTP as before', async () => {
  const { createServer: createHttp } = await import('node:http');
  const plain = createHttp((_req, res) => res.end('[]'));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  try {
    const api = new ApiClient(`http://127.0.0.1:${(plain.address() as AddressInfo).port}`, 't', { ca });
    assert.deepEqual(await api.hosts(), []);
    // and https:// to a plain server says the scheme is wrong
    const wrong = new ApiClient(`https://127.0.0.1:${(plain.address() as AddressInfo).port}`, 't', { ca });
    assert.equal(await codeOf(wrong.hosts()), 'NOOPS_E_TLS_MISMATCH');
  } finally {
    plain.close();
  }
});

test("transportError reads the socket's code through fetch's causes", () => {
  const wrap = (code: string): Error => new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code }) });
  assert.equal(transportError(wrap('SELF_SIGNED_CERT_IN_CHAIN'), 'https://a:1').code, 'NOOPS_E_TLS_UNTRUSTED');
  assert.equal(
    transportError(wrap('CERT_HAS_EXPIRED'), 'https://a:1').message,
    'refused to talk to https://a:1: its TLS certificate has expired (CERT_HAS_EXPIRED); nothing was sent',
  );
  assert.equal(transportError(wrap('ERR_SSL_WRONG_VERSION_NUMBER'), 'https://a:1').code, 'NOOPS_E_TLS_MISMATCH');
  assert.equal(transportError(wrap('ECONNREFUSED'), 'https://a:1').code, 'NOOPS_E_SERVER_UNREACHABLE');
  assert.equal(transportError(new TypeError('fetch failed'), 'http://a:1').code, 'NOOPS_E_SERVER_UNREACHABLE');
});
