/**
 * The real balancers the load-balancer tests drive (balancers-harness.ts): HAProxy starts with an
 * empty backend that its runtime API fills without a reload, nginx starts with an empty upstream
 * that a rewritten file and a SIGHUP fill (or, with Lua, that a PUT to noops' control API fills);
 * all proxy to what they were given, and all stop.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { accepts, nginxLuaMissing, startHaproxy, startNginx, type HaproxyProc, type NginxProc } from './balancers-harness.js';
import { cleanup, tmp, until } from './harness.js';

const base = tmp('lbharness');
let app: http.Server;
let appPort = 0;
let haproxy: HaproxyProc | undefined;
let nginx: NginxProc | undefined;
let nginxLua: NginxProc | undefined;

before(async () => {
  app = http.createServer((_req, res) => res.end('from the app'));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  appPort = (app.address() as AddressInfo).port;
});

after(async () => {
  await haproxy?.stop();
  await nginx?.stop();
  await nginxLua?.stop();
  app.closeAllConnections();
  app.close();
  cleanup([base]);
});

test('haproxy: an empty backend answers 503; a server added through the runtime API takes requests; stop ends it', {
  timeout: 60_000,
}, async () => {
  haproxy = await startHaproxy(join(base, 'haproxy'));
  assert.equal((await fetch(haproxy.url)).status, 503, 'no server yet');
  assert.equal((await haproxy.command(`add server ${haproxy.backend}/s1 127.0.0.1:${appPort}`)).trim(), 'New server registered.');
  assert.equal((await haproxy.command(`set server ${haproxy.backend}/s1 state ready`)).trim(), '');
  const res = await fetch(haproxy.url);
  assert.deepEqual([res.status, await res.text()], [200, 'from the app']);
  assert.match(await haproxy.command(`show servers state ${haproxy.backend}`), / s1 127\.0\.0\.1 2 /, 'srv_op_state 2: running');
  const port = haproxy.port;
  await haproxy.stop();
  assert.equal(await accepts(port), false);
});

test('nginx: the empty upstream answers 502; a rewritten upstream file and a SIGHUP take it to the app; stop ends it', {
  timeout: 60_000,
}, async () => {
  nginx = await startNginx(join(base, 'nginx'));
  assert.equal((await fetch(nginx.url)).status, 502, 'only the placeholder server, down');
  writeFileSync(nginx.upstreamFile, `upstream ${nginx.upstream} {\n  server 127.0.0.1:${appPort};\n}\n`);
  process.kill(Number(readFileSync(nginx.pidFile, 'utf8').trim()), 'SIGHUP');
  const n = nginx;
  await until('nginx proxies to the app after its reload', async () => (await (await fetch(n.url)).text()) === 'from the app', 20_000);
  const port = nginx.port;
  await nginx.stop();
  assert.equal(await accepts(port), false);
});

test('nginx with lua: the empty pool answers 502; a pool PUT to the control API takes it to the app, without a reload', {
  timeout: 60_000,
  skip: nginxLuaMissing(),
}, async () => {
  nginxLua = await startNginx(join(base, 'nginx-lua'), { lua: true });
  assert.equal((await fetch(nginxLua.url)).status, 502, 'no member');
  const put = await fetch(`http://${nginxLua.api}/noops/pools/${nginxLua.upstream}`, {
    method: 'PUT',
    body: `upstream ${nginxLua.upstream} {\n    server 127.0.0.1:${appPort}; # a1 ready\n}\n`,
  });
  assert.equal(put.status, 200, await put.clone().text());
  const res = await fetch(nginxLua.url);
  assert.deepEqual([res.status, await res.text()], [200, 'from the app']);
  assert.equal(nginxLua.reloads(), 0);
  const port = nginxLua.port;
  await nginxLua.stop();
  assert.equal(await accepts(port), false);
});
