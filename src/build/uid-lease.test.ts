/**
 * Build uids are leased host-wide: two servers on one host (two Sandboxes here, as two servers
 * are) never give one uid to two builds at once, so the end of one build (`kill -KILL -1` as its
 * uid) never kills another's processes; a lease whose holder is gone is taken over.
 */
import { after, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TOOLS } from './sandbox.js';
import { BUILD_UID_BASE, Sandbox } from './sandbox-run.js';
import { UidLeases } from './uid-lease.js';

const root = process.getuid?.() === 0;
const base = mkdtempSync(join(tmpdir(), 'noops-uid-lease-'));
after(() => rmSync(base, { recursive: true, force: true }));

test('a uid is held by one holder at a time; freed, it is taken again; a dead holder’s lease is taken over', () => {
  const dir = join(base, 'leases');
  const a = new UidLeases(dir);
  const b = new UidLeases(dir); // another server of this host
  assert.equal(a.take([7, 8, 9]), 7);
  assert.equal(b.take([7, 8, 9]), 8, 'held by a: the next one');
  assert.equal(readFileSync(join(dir, '7'), 'utf8').split(' ')[0], String(process.pid), 'the lease names its process');
  a.free(7);
  assert.equal(existsSync(join(dir, '7')), false);
  assert.equal(b.take([7, 8, 9]), 7);
  writeFileSync(join(dir, '9'), '2147483646 1'); // a holder that is gone (a crashed server)
  assert.equal(a.take([8, 9]), 9, 'taken over');
  assert.equal(a.take([7, 8, 9]), undefined, 'all held');
  // a lease of a live process (init's, as a lease names it): held, and never freed by another
  const init = readFileSync('/proc/1/stat', 'utf8');
  writeFileSync(join(dir, '10'), `1 ${init.slice(init.lastIndexOf(')') + 2).split(' ')[19]}`);
  assert.equal(a.take([10]), undefined, 'held by a process that runs');
  a.free(10);
  assert.equal(existsSync(join(dir, '10')), true, "another process's lease is kept");
});

test('two servers on one host: their builds get different uids, and one build’s end kills nothing of the other', {
  skip: !root,
}, async () => {
  const detect = (name: string) => {
    const data = join(base, name);
    mkdirSync(data, { recursive: true });
    // kind uid (no bubblewrap): nothing but the uid tells the builds apart, and the end kills by uid
    return Sandbox.detect({
      mode: 'auto',
      dockerSocket: '/nonexistent/docker.sock',
      dataDir: data,
      readable: [],
      log: () => undefined,
      tools: { ...DEFAULT_TOOLS, bwrap: '/nonexistent/bwrap' },
    });
  };
  const one = await detect('server-1');
  const two = await detect('server-2');
  try {
    assert.equal(one.kind, 'uid');
    const a = one.open();
    const b = two.open();
    assert.notEqual(a.id?.uid, b.id?.uid);
    for (const id of [a.id!, b.id!]) assert.ok(id.uid >= BUILD_UID_BASE, `${id.uid} is a build uid`);
    const work = join(two.workRoot('builds'), 'b');
    mkdirSync(work, { recursive: true });
    await b.own(work);
    // b leaves a daemon behind (its build still runs, say), then a's build ends
    // (the daemon says it left the step's process group before the step ends: the step's end kills that group)
    const daemon =
      "setsid sh -c 'echo $$ > daemon.pid; exec sleep 300' </dev/null >/dev/null 2>&1 & while [ ! -s daemon.pid ]; do sleep 0.05; done; echo started";
    const r = await b.run(['/bin/sh', '-c', daemon], work, {
      cwd: work,
      env: { PATH: '/usr/bin:/bin' },
      deadline: Date.now() + 10_000,
    });
    assert.equal(r.stdout.trim(), 'started');
    const running = (uid: number): string[] =>
      spawnSync('ps', ['-u', String(uid), '-o', 'stat=,args='], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter((l) => l.includes('sleep 300') && !l.trim().startsWith('Z'));
    assert.equal(running(b.id!.uid).length, 1, 'the daemon of b runs');
    const mid = join(one.workRoot('builds'), 'a');
    mkdirSync(mid, { recursive: true });
    await a.own(mid);
    await a.run(['/bin/true'], mid, { cwd: mid, env: { PATH: '/usr/bin:/bin' }, deadline: Date.now() + 10_000 });
    await a.close(); // kill -KILL -1 as a's uid
    assert.equal(running(b.id!.uid).length, 1, "a's end did not kill b's processes");
    await b.close();
    for (const deadline = Date.now() + 10_000; running(b.id!.uid).length > 0 && Date.now() < deadline; )
      await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(running(b.id!.uid), [], "b's own end kills its daemon");
  } finally {
    await one.close();
    await two.close();
  }
});
