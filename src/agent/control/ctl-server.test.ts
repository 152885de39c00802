/** The control socket: who may reach it, one agent per root, and the actions over it. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Control, type WatchView } from './control.js';
import { CtlClient } from './ctl-client.js';
import { CtlServer, ctlSocketPath } from './ctl-server.js';
import { Host } from '../host.js';

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

test('ctl restart NAME: the running process is replaced by a new one, and the wait ends once it is up', async () => {
  const dir = join(root, 'restart');
  mkdirSync(dir);
  writeFileSync(join(dir, 'watches.yaml'), `processes:\n  sleeper:\n    command: exec sleep 1000\n    dir: ${dir}\n    start_grace: 0.3\n`);
  const host = new Host({ root: dir, log: () => undefined });
  const server = await CtlServer.listen(dir, new Control(host));
  const ctl = new CtlClient(dir);
  const status = async (): Promise<WatchView> => (await ctl.get<WatchView[]>('/v1/status', { name: 'sleeper' }))[0]!;
  const upWith = async (ok: (w: WatchView) => boolean): Promise<WatchView> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const w = await status();
      if ((w.state === 'up' && ok(w)) || Date.now() > deadline) return w;
      await sleep(20);
    }
  };
  try {
    await host.adoptAll();
    const first = await upWith(() => true);
    assert.equal(first.state, 'up');
    // A crash first: the supervisor restarts it by itself, and counts it.
    process.kill(first.pid!, 'SIGKILL');
    const crashed = await upWith((w) => w.pid !== first.pid);
    assert.equal(crashed.state, 'up');
    assert.equal(crashed.restarts, 1);

    const [restarted] = await ctl.post<WatchView[]>('/v1/restart', { name: 'sleeper' });
    assert.equal(restarted?.state, 'up', 'the answer comes once it is up (start grace over)');
    assert.ok(restarted.pid !== null && restarted.pid !== crashed.pid, 'a new process');
    assert.throws(() => process.kill(crashed.pid!, 0), { code: 'ESRCH' }, 'the old one is gone');
    assert.ok(restarted.startedAt! > crashed.startedAt!);
    // restarts counts what the supervisor did by itself (docs/supervisor.md): a restart by request
    // neither adds to it nor wipes the crash out.
    assert.equal(restarted.restarts, 1);
    assert.equal((await status()).pid, restarted.pid);
    const events = await ctl.get<{ kind: string; message: string }[]>('/v1/events', { name: 'sleeper' });
    assert.deepEqual(
      events.map((e) => e.kind),
      ['started', 'crash', 'restart', 'started'],
    );
    assert.match(events.at(-1)!.message, /restarted by request/);
  } finally {
    await host.nuke();
    await server.close();
  }
});
