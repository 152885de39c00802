/**
 * The keepalived driver: the file it writes passes the real `keepalived -t` (Debian's 2.2.7);
 * a file keepalived refuses never replaces the old one; the daemon is signalled only when its
 * pid file names a live keepalived.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredBalancers, DesiredMember, MemberState } from '../../api/index.js';
import { BalancerApplier } from './applier.js';
import { checkKeepalived, keepalivedConfig } from './keepalived.js';
import { KEEPALIVED, missing } from './test-daemons.js';

const skip = missing(KEEPALIVED);
const dir = mkdtempSync(join(tmpdir(), 'noops-keepalived-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function member(id: string, address: string, port: number, state: MemberState): DesiredMember {
  return { id, address, port, state, host: 'h1', tag: 'cop.x_job.web', version: 'abcdef1', process: 'web' };
}

function pool(file: string, vip: string, members: DesiredMember[]): DesiredBalancers {
  return { index: 3, pools: [{ name: 'lvs', driver: 'keepalived', file, vip, pidFile: join(dir, 'keepalived.pid'), members }] };
}

test('the file: ready weight 1, drain weight 0, maint left out; no member, no virtual server', () => {
  const text = keepalivedConfig(
    { address: '10.0.0.1', port: 80 },
    [
      { id: 'h1_a', address: '10.0.1.1', port: 8001, state: 'ready' },
      { id: 'h2_a', address: '10.0.1.2', port: 8002, state: 'drain' },
      { id: 'h3_a', address: '10.0.1.3', port: 8003, state: 'maint' },
    ],
    'lvs',
  );
  assert.match(text, /^virtual_server 10\.0\.0\.1 80 \{\n {4}delay_loop 6\n {4}lb_algo wrr\n {4}lb_kind NAT\n {4}protocol TCP\n/m);
  assert.match(text, /real_server 10\.0\.1\.1 8001 \{\n {8}weight 1\n {4}\}/);
  assert.match(text, /real_server 10\.0\.1\.2 8002 \{\n {8}weight 0\n {4}\}/);
  assert.doesNotMatch(text, /10\.0\.1\.3/);
  assert.doesNotMatch(keepalivedConfig({ address: '10.0.0.1', port: 80 }, [], 'lvs'), /virtual_server/);
});

test('keepalived -t accepts every file noops writes (IPv4, IPv6, drain, empty)', { skip }, async () => {
  const applier = new BalancerApplier();
  const file = join(dir, 'lvs.conf');
  const cases: [string, DesiredMember[]][] = [
    [
      '10.0.0.1:80',
      [member('h1_a', '10.0.1.1', 8001, 'ready'), member('h2_a', '10.0.1.2', 8002, 'drain'), member('h3_a', '10.0.1.3', 8003, 'maint')],
    ],
    ['[fd00::1]:443', [member('h1_a', 'fd00::11', 8443, 'ready')]],
    ['10.0.0.1:80', [member('h3_a', '10.0.1.3', 8003, 'maint')]],
    ['10.0.0.1:80', []],
  ];
  for (const [vip, members] of cases) {
    const [r] = await applier.apply(pool(file, vip, members));
    assert.equal(r!.ok, true, r!.error);
    await checkKeepalived(file); // the file in place passes the check on its own too
    assert.deepEqual(
      r!.members,
      members.filter((m) => m.state !== 'maint').map((m) => ({ id: m.id, state: m.state, connections: null })),
    );
  }
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('noops-tmp')),
    [],
    'no temporary file is left',
  );
});

test('a file keepalived refuses does not replace the old one', { skip }, async () => {
  const broken = join(dir, 'broken.conf');
  writeFileSync(broken, 'virtual_server 10.0.0.1 80 {\n  bogus_keyword 1\n  real_server 10.0.1.1 {\n');
  await assert.rejects(checkKeepalived(broken), (err: Error) => {
    assert.match(err.message, /keepalived -t refused the new .*broken\.conf \(exit 5\): .*Unknown keyword 'bogus_keyword'/);
    return true;
  });

  // the driver's own temporary file spoiled before the real check runs on it
  const spoil = join(dir, 'spoiling-keepalived');
  writeFileSync(spoil, `#!/bin/sh\necho 'bogus_keyword 1' >> "$3"\nexec ${KEEPALIVED} "$@"\n`);
  chmodSync(spoil, 0o755);
  const file = join(dir, 'kept.conf');
  const good = pool(file, '10.0.0.1:80', [member('h1_a', '10.0.1.1', 8001, 'ready')]);
  assert.equal((await new BalancerApplier().apply(good))[0]!.ok, true);
  const old = readFileSync(file, 'utf8');
  const [r] = await new BalancerApplier({ keepalived: spoil }).apply(
    pool(file, '10.0.0.1:80', [member('h1_a', '10.0.1.1', 8001, 'drain')]),
  );
  assert.equal(r!.ok, false);
  assert.match(r!.error!, /keepalived -t refused the new .*\.kept\.conf\.noops-tmp .*bogus_keyword/);
  assert.deepEqual(r!.members, []);
  assert.equal(readFileSync(file, 'utf8'), old, 'the old file stays');
  assert.equal(existsSync(join(dir, '.kept.conf.noops-tmp')), false);
});

test('keepalived absent or not running: said plainly; a pid file naming another program is not signalled', async () => {
  const file = join(dir, 'signal.conf');
  const desired = pool(file, '10.0.0.1:80', [member('h1_a', '10.0.1.1', 8001, 'ready')]);
  const [absent] = await new BalancerApplier({ keepalived: join(dir, 'no-keepalived') }).apply(desired);
  assert.match(absent!.error!, /keepalived is not installed on this host/);
  if (skip) return;
  const applier = new BalancerApplier();
  assert.equal((await applier.apply(desired))[0]!.ok, true, 'not running: it reads the file when it starts');
  writeFileSync(join(dir, 'keepalived.pid'), `${process.pid}\n`);
  const [refused] = await applier.apply({ ...desired, pools: [{ ...desired.pools[0]!, members: [] }] });
  assert.equal(refused!.ok, false);
  assert.match(refused!.error!, /names pid \d+, which is ".+", not keepalived: not signalled/);
});
