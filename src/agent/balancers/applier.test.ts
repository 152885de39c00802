/**
 * The applier's checks: what the server sends is input like any other. A pool with a bad path,
 * address, port, id or state is reported ok:false with the reason and nothing of it is applied;
 * the other pools are. Pools the server no longer names are forgotten and left as they are.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredBalancer, DesiredMember } from '../../api/index.js';
import { BalancerApplier } from './applier.js';
import { checkPool, parseVip } from './validate.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-applier-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const good: DesiredMember = {
  id: 'h1_web_job',
  address: '10.0.0.5',
  port: 8080,
  state: 'ready',
  host: 'h1',
  tag: 't',
  version: 'abcdef1',
  process: 'web',
};

function nginxPool(over: Partial<DesiredBalancer> = {}, members: DesiredMember[] = [good]): DesiredBalancer {
  return { name: 'web', driver: 'nginx', file: join(dir, 'web.conf'), pidFile: join(dir, 'nginx.pid'), members, ...over };
}

function reason(p: DesiredBalancer): string {
  const c = checkPool(p);
  assert.equal(c.ok, false, `expected a refusal of ${JSON.stringify(p)}`);
  return c.ok ? '' : c.reason;
}

test('paths must be absolute, plain and whole', () => {
  assert.match(reason(nginxPool({ file: 'web.conf' })), /file "web.conf" is not an absolute path/);
  assert.match(reason(nginxPool({ file: '/etc/nginx/../passwd' })), /is not an absolute path/);
  assert.match(reason(nginxPool({ file: '/etc/nginx/' })), /is not an absolute path/);
  assert.match(reason(nginxPool({ file: '/etc/x.conf\ninclude /etc/shadow' })), /is not an absolute path/);
  assert.match(reason(nginxPool({ pidFile: 'run/nginx.pid' })), /pidFile "run\/nginx.pid" is not an absolute path/);
  assert.match(
    reason({ name: 'h', driver: 'haproxy', socket: 'admin.sock', backend: 'b', members: [] }),
    /socket "admin.sock" is not an absolute path/,
  );
  assert.match(reason({ name: 'h', driver: 'haproxy', members: [] } as DesiredBalancer), /socket undefined is not an absolute path/);
});

test('members: IP addresses, integer ports 1-65535, ids of [A-Za-z0-9_.:-], known states, each id once', () => {
  const bad = (m: Partial<DesiredMember>) => reason(nginxPool({}, [{ ...good, ...m } as DesiredMember]));
  assert.match(bad({ address: 'example.com' }), /address "example.com" is not an IP address/);
  assert.match(bad({ address: '1.2.3' }), /is not an IP address/);
  assert.match(bad({ address: '10.0.0.5; include /etc/shadow' }), /is not an IP address/);
  assert.match(bad({ port: 0 }), /port 0 is not an integer 1-65535/);
  assert.match(bad({ port: 65536 }), /port 65536 is not/);
  assert.match(bad({ port: 80.5 }), /port 80.5 is not/);
  assert.match(bad({ port: '80' as unknown as number }), /port "80" is not/);
  assert.match(bad({ id: 'a b' }), /id "a b" is not/);
  assert.match(bad({ id: 'x;shutdown' }), /is not \[A-Za-z0-9_.:-\]/);
  assert.match(bad({ id: 'x'.repeat(101) }), /is not/);
  assert.match(bad({ state: 'up' as never }), /state "up" is not ready, drain or maint/);
  assert.match(reason(nginxPool({}, [good, { ...good, port: 9090 }])), /member id h1_web_job is given twice/);
  assert.equal(checkPool(nginxPool({}, [{ ...good, address: '::1' }])).ok, true);
});

test('drivers and their settings', () => {
  assert.match(reason(nginxPool({ driver: 'lvs' as never })), /unknown driver "lvs"/);
  assert.match(
    reason({ name: 'h', driver: 'haproxy', socket: '/run/h.sock', backend: 'be;shutdown', members: [] }),
    /backend "be;shutdown" is not/,
  );
  assert.match(reason(nginxPool({ backend: 'up stream' })), /upstream "up stream" is not/);
  const lvs = (vip: string, members: DesiredMember[] = []) => ({
    name: 'l',
    driver: 'keepalived' as const,
    file: '/etc/k.conf',
    vip,
    members,
  });
  assert.match(reason(lvs('10.0.0.1')), /vip "10.0.0.1" is not ADDR:PORT/);
  assert.match(reason(lvs('10.0.0.1:0')), /is not ADDR:PORT/);
  assert.match(reason(lvs('::1:80')), /is not ADDR:PORT/);
  assert.match(reason(lvs('10.0.0.1:80', [{ ...good, address: 'fd00::5' }])), /not of the vip's family/);
  assert.deepEqual(parseVip('[fd00::1]:443'), { address: 'fd00::1', port: 443 });
  assert.deepEqual(parseVip('10.0.0.1:80'), { address: '10.0.0.1', port: 80 });
  const ok = checkPool(lvs('10.0.0.1:80', [{ ...good, address: 'fd00::5', state: 'maint' }]));
  assert.equal(ok.ok, true, 'a member in maint is left out of the file: its family does not matter');
  assert.deepEqual(checkPool(nginxPool()), {
    ok: true,
    pool: {
      name: 'web',
      driver: 'nginx',
      file: join(dir, 'web.conf'),
      upstream: 'web',
      pidFile: join(dir, 'nginx.pid'),
      members: [{ id: 'h1_web_job', address: '10.0.0.5', port: 8080, state: 'ready' }],
    },
  });
  const defaults = checkPool({ name: 'web', driver: 'nginx', file: '/etc/nginx/noops/web.conf', members: [] });
  assert.equal(defaults.ok && defaults.pool.driver === 'nginx' && defaults.pool.pidFile, '/run/nginx.pid');
});

test('an invalid pool is reported ok:false and nothing of it is applied; the others are', async () => {
  const applier = new BalancerApplier({ now: () => new Date('2026-12-03T10:00:00Z') });
  const badFile = join(dir, 'bad.conf');
  const reports = await applier.apply({
    index: 5,
    pools: [
      nginxPool({ name: 'bad', file: badFile }, [{ ...good, address: 'example.com' }]),
      nginxPool({ name: 'same', file: join(dir, 'web.conf') }),
      nginxPool(),
    ],
  });
  assert.deepEqual(
    reports.map((r) => [r.name, r.ok, r.index, r.at]),
    [
      ['bad', false, 5, '2026-12-03T10:00:00.000Z'],
      ['same', false, 5, '2026-12-03T10:00:00.000Z'],
      ['web', false, 5, '2026-12-03T10:00:00.000Z'],
    ],
  );
  assert.match(reports[0]!.error!, /pool "bad": member h1_web_job's address "example.com" is not an IP address/);
  assert.equal(existsSync(badFile), false, 'nothing of an invalid pool is written');
  // two pools writing one file: only the first by name is driven (its reload failed: no nginx here)
  assert.match(reports[1]!.error!, /wrote .*web\.conf but nginx is not running/);
  assert.match(reports[2]!.error!, /pool "web": pool "same" drives the same file .*web\.conf/);
  assert.match(readFileSync(join(dir, 'web.conf'), 'utf8'), /server 10\.0\.0\.5:8080; # h1_web_job ready/);
});

test('a pool no longer named is forgotten and left as it is in its balancer', async () => {
  const applier = new BalancerApplier();
  const file = join(dir, 'forgotten.conf');
  await applier.apply({ index: 1, pools: [nginxPool({ name: 'gone', file })] });
  const before = readFileSync(file, 'utf8');
  assert.deepEqual(await applier.apply({ index: 2, pools: [] }), []);
  assert.equal(readFileSync(file, 'utf8'), before);
  assert.deepEqual(applier.lastReports(), []);
  assert.equal(applier.draining(), false);
});
