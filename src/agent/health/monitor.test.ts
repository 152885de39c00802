import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttp } from 'node:http';
import { createServer as createTcp, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probe } from './probe.js';
import { HealthMonitor } from './monitor.js';
import type { HealthCheck } from '../../release/index.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-health-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function listen(server: Server | ReturnType<typeof createHttp>): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}
const target = (port: number | null) => ({ port, cwd: dir, env: { PATH: process.env.PATH ?? '', WHO: 'web' } });
const timing = { interval: 0.05, timeout: 1 };

test('tcp: healthy when the port accepts a connection, the reason when it refuses', async () => {
  const srv = createTcp((s) => s.destroy());
  const port = await listen(srv);
  assert.equal(await probe({ type: 'tcp', ...timing }, target(port)), null);
  await new Promise((r) => srv.close(r));
  assert.equal(await probe({ type: 'tcp', ...timing }, target(port)), `tcp 127.0.0.1:${port}: connection refused`);
  assert.equal(
    await probe({ type: 'tcp', ...timing }, target(null)),
    'a tcp check needs a port, and this process has none (give it one, or another check)',
  );
});

test('http: 2xx and 3xx are healthy, anything else names the status', async () => {
  const srv = createHttp((req, res) => {
    res.statusCode = req.url === '/ok' ? 200 : req.url === '/moved' ? 302 : 503;
    if (res.statusCode === 302) res.setHeader('location', '/elsewhere');
    res.end();
  });
  const port = await listen(srv);
  try {
    assert.equal(await probe({ type: 'http', path: '/ok', ...timing }, target(port)), null);
    assert.equal(await probe({ type: 'http', path: '/moved', ...timing }, target(port)), null);
    assert.equal(await probe({ type: 'http', path: '/bad', ...timing }, target(port)), `http GET http://127.0.0.1:${port}/bad: status 503`);
  } finally {
    srv.closeAllConnections();
    await new Promise((r) => srv.close(r));
  }
});

test('command: exit 0 is healthy; otherwise the code and the last line it printed; too slow is killed', async () => {
  assert.equal(await probe({ type: 'command', command: 'test "$WHO" = web', ...timing }, target(null)), null);
  assert.equal(
    await probe({ type: 'command', command: 'echo first; echo "db down" >&2; exit 3', ...timing }, target(null)),
    'command "echo first; echo "db down" >&2; exit 3" exited with code 3: db down',
  );
  assert.equal(
    await probe({ type: 'command', command: 'sleep 5', interval: 1, timeout: 0.2 }, target(null)),
    'command "sleep 5": no answer within 0.2s',
  );
});

test('the monitor: starting, then healthy since the first success in a row; a new run starts over', async () => {
  const answers: (string | null)[] = ['refused', null, null, 'down', null];
  let clock = 1000;
  const seen: string[] = [];
  // every change is reported; a probe that answers like the last one is not a change
  const m: HealthMonitor = new HealthMonitor({
    onChange: () => {
      const s = m.status('web')!;
      seen.push(`${s.health}:${s.healthySince}:${s.error}`);
    },
    probe: async () => {
      clock += 10;
      return answers.length ? answers.shift()! : null;
    },
    now: () => clock,
  });
  const check: HealthCheck = { type: 'tcp', interval: 0.01, timeout: 1 };
  m.watch('web', 'pid1', check, target(1));
  assert.equal(m.status('web')!.health, 'starting');
  for (const deadline = Date.now() + 10_000; seen.length < 4 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(seen, ['unhealthy:null:refused', 'healthy:1020:null', 'unhealthy:null:down', 'healthy:1050:null']);
  m.watch('web', 'pid1', check, target(1));
  assert.equal(m.status('web')!.healthySince, 1050, 'the same run keeps its streak');
  m.watch('web', 'pid2', check, target(1));
  assert.equal(m.status('web')!.health, 'starting', 'a restarted process starts over');
  m.retain(new Set());
  assert.equal(m.status('web'), undefined);
  m.stop();
});

test('the monitor says which changes are transitions: a new reason for the same failure is not one', async () => {
  const answers: (string | null)[] = ['refused', 'timed out', null];
  const seen: string[] = [];
  const m: HealthMonitor = new HealthMonitor({
    onChange: (transition) => seen.push(`${m.status('web')!.health}:${transition}`),
    probe: async () => (answers.length ? answers.shift()! : null),
  });
  m.watch('web', 'pid1', { type: 'tcp', interval: 0.01, timeout: 1 }, target(1));
  for (const deadline = Date.now() + 10_000; seen.length < 3 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
  m.stop();
  assert.deepEqual(seen, ['unhealthy:true', 'unhealthy:false', 'healthy:true']);
});
