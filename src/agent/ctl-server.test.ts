/** The control socket: who may reach it, one agent per root, and the actions over it. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Control, type WatchView } from './control.js';
import { CtlClient } from './ctl-client.js';
import { CtlServer, ctlSocketPath } from './ctl-server.js';
import { Host } from './host.js';

const root = mkdtempSync(join(tmpdir(), 'noops-ctl-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('the socket is 0600 in a 0700 folder; a second agent on the root is refused; actions work', async () => {
  writeFileSync(join(root, 'watches.yaml'), `processes:\n  sleeper:\n    command: sleep 1000\n    dir: ${root}\n`);
  const host = new Host({ root, log: () => undefined });
  const server = await CtlServer.listen(root, new Control(host));
  try {
    await host.adoptAll();
    assert.equal(statSync(ctlSocketPath(root)).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, 'run')).mode & 0o777, 0o700);
    await assert.rejects(CtlServer.listen(root, new Control(host)), /another agent is running on/);

    const ctl = new CtlClient(root);
    const [w] = await ctl.get<WatchView[]>('/v1/status', { name: 'sleeper' });
    assert.equal(w?.id, 'sleeper');
    assert.ok(w?.pid);
    await assert.rejects(ctl.get('/v1/status', { name: 'nope' }), { code: 'NOOPS_E_WATCH_UNKNOWN' });
    await assert.rejects(ctl.post('/v1/signal', { name: 'sleeper', signal: 'NOPE' }), { code: 'NOOPS_E_INPUT' });
    const [stopped] = await ctl.post<WatchView[]>('/v1/stop', { name: 'sleeper' });
    assert.equal(stopped?.state, 'stopped');
    assert.deepEqual(host.localState.held, ['sleeper'], 'held across an agent restart');
    const [started] = await ctl.post<WatchView[]>('/v1/start', { name: 'sleeper' });
    assert.equal(started?.state, 'starting');
    assert.deepEqual(host.localState.held, []);
  } finally {
    await host.nuke();
    await server.close();
  }
  // A socket left by a dead agent is replaced, not refused.
  writeFileSync(ctlSocketPath(root), '');
  const again = await CtlServer.listen(root, new Control(new Host({ root, log: () => undefined })));
  await again.close();
  await assert.rejects(new CtlClient(root).get('/v1/status'), { code: 'NOOPS_E_AGENT_UNREACHABLE' });
});
