/**
 * The nginx driver: the upstream file it writes, and a real nginx started by the test that
 * includes it: after an apply and its reload, requests go only to the ready members; the same
 * pool again is neither written nor reloaded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredMember, MemberState } from '../../api/index.js';
import { BalancerApplier } from './applier.js';
import { nginxUpstream } from './nginx.js';
import { NGINX, hit, missing, startBackend, startNginx, until, type Backend, type RunningNginx } from './test-daemons.js';

const skip = missing(NGINX);
let dir: string;
let file: string;
let nginx: RunningNginx;
let a: Backend;
let b: Backend;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'noops-nginx-pool-'));
  file = join(dir, 'web.conf');
  if (skip) return;
  [a, b] = await Promise.all([startBackend('a'), startBackend('b')]);
  writeFileSync(file, nginxUpstream('web', [], 'web')); // what nginx starts with: an empty pool
  nginx = await startNginx(file, 'web');
});
after(async () => {
  await nginx?.stop();
  await Promise.all([a, b].map((s) => s?.close()));
  rmSync(dir, { recursive: true, force: true });
});

function member(id: string, port: number, state: MemberState, address = '127.0.0.1'): DesiredMember {
  return { id, address, port, state, host: 'h1', tag: 'cop.x_job.web', version: 'abcdef1', process: 'web' };
}

test('the upstream file: ready members plain, drain and maint down, an empty pool one down server', () => {
  assert.equal(
    nginxUpstream('web', [member('h1_a', 8001, 'ready'), member('h2_a', 8002, 'drain'), member('h3_a', 8003, 'maint', '::1')], 'web'),
    [
      '# Written by the noops agent for the pool web; replaced on every change, do not edit.',
      'upstream web {',
      '    server 127.0.0.1:8001; # h1_a ready',
      '    server 127.0.0.1:8002 down; # h2_a drain',
      '    server [::1]:8003 down; # h3_a maint',
      '}',
      '',
    ].join('\n'),
  );
  assert.match(nginxUpstream('web', [], 'web'), /upstream web \{\n {4}server 127\.0\.0\.1:1 down; # no members\n\}/);
});

/** Who answered `n` requests through nginx, counted by name. */
async function spread(n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const name = await hit(nginx.url);
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

test('after apply and reload, requests go only to the ready members; the same pool is not reloaded again', { skip }, async () => {
  const applier = new BalancerApplier();
  let index = 0;
  const apply = async (members: DesiredMember[]) => {
    const [r] = await applier.apply({ index: ++index, pools: [{ name: 'web', driver: 'nginx', file, pidFile: nginx.pidFile, members }] });
    assert.equal(r!.ok, true, r!.error);
    return r!;
  };
  const both = await apply([member('h1_a', a.port, 'ready'), member('h1_b', b.port, 'ready')]);
  assert.deepEqual(both.members, [
    { id: 'h1_a', state: 'ready', connections: null },
    { id: 'h1_b', state: 'ready', connections: null },
  ]);
  // until the reload is done, the old workers answer with the empty upstream (502)
  await until('both members to take requests', async () => {
    const s = await spread(4).catch(() => ({}) as Record<string, number>);
    return s.a === 2 && s.b === 2;
  });
  // nginx's log is read as it comes: wait for each reload's line rather than read it at once
  await until('the first reload to be logged', () => nginx.reloads() === 1);
  await until('the first reload to retire the old worker', () => nginx.settled());

  await apply([member('h1_a', a.port, 'drain'), member('h1_b', b.port, 'ready')]);
  // a reload is graceful: old workers, still with both members, may take a new connection until
  // they close their listeners, so four requests to b alone can happen by chance before it is done
  await until('the second reload to be logged', () => nginx.reloads() === 2);
  // once the old worker has exited, every connection goes to the new configuration
  await until('the second reload to retire the old worker', () => nginx.settled());
  await until(
    'the drained member to get no new requests',
    async () => (await spread(12).catch(() => ({}) as Record<string, number>)).b === 12,
  );
  const before = a.hits;
  assert.deepEqual(await spread(20), { b: 20 });
  assert.equal(a.hits, before, 'a member that is down gets nothing');

  // unchanged: the file is not rewritten (same inode) and nginx is not signalled
  const inode = statSync(file).ino;
  await apply([member('h1_a', a.port, 'drain'), member('h1_b', b.port, 'ready')]);
  assert.equal(statSync(file).ino, inode);
  await apply([member('h1_a', a.port, 'maint'), member('h1_b', b.port, 'ready')]);
  assert.notEqual(statSync(file).ino, inode, 'a change is a new file, renamed over the old');
  await until('the third reload to be logged', () => nginx.reloads() >= 3);
  await until('the third reload to retire the old worker', () => nginx.settled());
  assert.deepEqual(await spread(6), { b: 6 });
  assert.equal(nginx.reloads(), 3, 'one reload per change, none for the unchanged pool');
});

test('a pid file that names no nginx: the file is written, the pool ok:false, reloaded once nginx is there', { skip }, async () => {
  const applier = new BalancerApplier();
  const other = join(dir, 'other.conf');
  const pidFile = join(dir, 'absent.pid');
  const desired = {
    index: 1,
    pools: [{ name: 'other', driver: 'nginx' as const, file: other, pidFile, members: [member('h1_a', a.port, 'ready')] }],
  };
  const [r] = await applier.apply(desired);
  assert.equal(r!.ok, false);
  assert.match(r!.error!, /nginx is not running \(no live process in .*absent\.pid\): not reloaded/);
  assert.match(readFileSync(other, 'utf8'), /server 127\.0\.0\.1:\d+; # h1_a ready/);
  // a pid file that names another program (this test's node) is refused, never signalled
  writeFileSync(pidFile, `${process.pid}\n`);
  const [refused] = await applier.apply(desired);
  assert.match(refused!.error!, /names pid \d+, which is ".+", not nginx: not signalled/);
  // the file is unchanged, but its reload is still owed: sent once the pid file names nginx
  writeFileSync(pidFile, readFileSync(nginx.pidFile));
  const reloads = nginx.reloads();
  const [ok] = await applier.apply(desired);
  assert.equal(ok!.ok, true, ok!.error);
  await until('the owed reload', () => nginx.reloads() === reloads + 1);
});
