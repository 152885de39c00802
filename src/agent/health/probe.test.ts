import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { probe, type ProbeTarget } from './probe.js';

async function listen(status: number): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => {
    res.statusCode = status;
    res.end('x');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

async function closedPort(): Promise<number> {
  const { server, port } = await listen(200);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const at = (port: number | null): ProbeTarget => ({
  port,
  cwd: tmpdir(),
  env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SAID: 'not ready' },
});

test('tcp and http checks: healthy when the process answers, the reason in words when not', async () => {
  const ok = await listen(302);
  const bad = await listen(503);
  const closed = await closedPort();
  try {
    assert.equal(await probe({ type: 'tcp', interval: 1, timeout: 2 }, at(ok.port)), null);
    assert.equal(await probe({ type: 'http', path: '/up', interval: 1, timeout: 2 }, at(ok.port)), null); // a 3xx is an answer
    assert.equal(
      await probe({ type: 'http', path: '/up', interval: 1, timeout: 2 }, at(bad.port)),
      `http GET http://127.0.0.1:${bad.port}/up: status 503`,
    );
    assert.equal(await probe({ type: 'tcp', interval: 1, timeout: 2 }, at(closed)), `tcp 127.0.0.1:${closed}: connection refused`);
    assert.equal(
      await probe({ type: 'http', path: '/', interval: 1, timeout: 2 }, at(closed)),
      `http GET http://127.0.0.1:${closed}/: connection refused`,
    );
    assert.equal(
      await probe({ type: 'tcp', interval: 1, timeout: 2 }, at(null)),
      'a tcp check needs a port, and this process has none (give it one, or another check)',
    );
  } finally {
    ok.server.close();
    bad.server.close();
  }
});

test('command checks: exit 0 is healthy; else the code and the last line it said; a deadline', async () => {
  assert.equal(await probe({ type: 'command', command: 'true', interval: 1, timeout: 5 }, at(null)), null);
  assert.equal(
    await probe({ type: 'command', command: 'echo first; echo "$SAID" >&2; exit 3', interval: 1, timeout: 5 }, at(null)),
    'command "echo first; echo "$SAID" >&2; exit 3" exited with code 3: not ready',
  );
  assert.equal(
    await probe({ type: 'command', command: 'sleep 30', interval: 1, timeout: 0.2 }, at(null)),
    'command "sleep 30": no answer within 0.2s',
  );
  assert.equal(await probe({ type: 'none' }, at(null)), null);
});
