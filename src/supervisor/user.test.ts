import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimFolders, identityFor, resolveUser } from './user.js';

const asRoot = process.getuid?.() === 0;

test("claimFolders gives root's folders to the user, leaves other users' files, never follows a link", {
  skip: !asRoot && 'needs root (chown)',
}, () => {
  const base = mkdtempSync(join(tmpdir(), 'noops-claim-'));
  try {
    const data = join(base, 'data');
    mkdirSync(join(data, 'sub'), { recursive: true });
    writeFileSync(join(data, 'a.txt'), 'a');
    writeFileSync(join(data, 'sub', 'b.txt'), 'b');
    writeFileSync(join(base, 'outside'), "not the release's");
    symlinkSync(join(base, 'outside'), join(data, 'link'));
    writeFileSync(join(data, 'theirs'), "another user's");
    chownSync(join(data, 'theirs'), 4321, 4321);
    const nobody = resolveUser('nobody');
    claimFolders([data, join(base, 'new')], nobody);
    const owner = (p: string) => {
      const st = lstatSync(p);
      return [st.uid, st.gid];
    };
    const mine = [nobody.uid, nobody.gid];
    assert.deepEqual([data, join(data, 'a.txt'), join(data, 'sub'), join(data, 'sub', 'b.txt'), join(base, 'new')].map(owner), [
      mine,
      mine,
      mine,
      mine,
      mine,
    ]);
    assert.deepEqual(owner(join(data, 'theirs')), [4321, 4321]);
    assert.deepEqual(owner(join(data, 'link')), [0, 0], "the link itself stays root's");
    assert.equal(statSync(join(base, 'outside')).uid, 0, 'what a link points to is never touched');
    claimFolders([data], undefined); // the supervisor's own user: nothing to do
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('a user asked for by a uid-0 name is refused without allowRoot, switched to otherwise', () => {
  const toor = { name: 'toor', uid: 0, gid: 0, home: '/root' };
  const app = { name: 'app', uid: 1001, gid: 1001, home: '/home/app' };
  assert.throws(() => identityFor(toor, 0, false), /would run as "toor" \(uid 0\)/);
  assert.equal(identityFor(toor, 0, true), undefined);
  assert.deepEqual(identityFor(app, 0, false), app);
  assert.equal(identityFor(app, 1001, false), undefined);
});

test('a running root process whose root is refused now is adopted, never started again', {
  skip: !asRoot && 'needs root',
  timeout: 20_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-adopt-root-'));
  const { Supervisor } = await import('./supervisor.js');
  const first = new Supervisor({ pollMs: 50 });
  const second = new Supervisor({ pollMs: 50 });
  const spec = {
    id: 'web',
    command: 'exec sleep 30',
    cwd: dir,
    env: { PATH: process.env.PATH! },
    logDir: dir,
    logName: 'web',
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 1000,
    startGraceMs: 0,
  };
  try {
    const { pid, startTime } = first.start(spec); // as root: no rule then
    first.detach();
    const adopted = second.adopt({ ...spec, allowRoot: false }, { pid: pid!, startTime: startTime! });
    assert.deepEqual([adopted.state, adopted.pid], ['up', pid]);
    process.kill(-pid!, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (!/could not start: it would run as the agent's own user \(root\)/.test(second.status('web')!.reason) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.match(second.status('web')!.reason, /could not start: it would run as the agent's own user \(root\)/);
    assert.throws(() => second.start({ ...spec, id: 'new', allowRoot: false }), /root is not allowed/);
  } finally {
    await second.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
