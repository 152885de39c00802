/**
 * The runtime API client against a real haproxy (Debian's 2.6) started by the test: each command,
 * the states it reads, and the errors (an unknown backend, a refused command, no socket).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { NoopsError } from '../../errors/index.js';
import { adminState, HaproxyClient, hostPort } from './haproxy.js';
import { HAPROXY, missing, startHaproxy, type RunningHaproxy } from './test-daemons.js';

const skip = missing(HAPROXY);
let haproxy: RunningHaproxy;
let client: HaproxyClient;

before(async () => {
  if (skip) return;
  haproxy = await startHaproxy();
  client = new HaproxyClient(haproxy.socket);
});
after(() => haproxy?.stop());

test('srv_admin_state bits read as maint, drain or ready; addresses as add server takes them', () => {
  assert.equal(adminState(0), 'ready');
  assert.equal(adminState(0x01), 'maint');
  assert.equal(adminState(0x08), 'drain');
  assert.equal(adminState(0x10), 'drain');
  assert.equal(adminState(0x09), 'maint'); // maint wins over drain
  assert.equal(adminState(0x20), 'maint');
  assert.equal(hostPort('10.0.0.1', 80), '10.0.0.1:80');
  assert.equal(hostPort('::1', 80), '[::1]:80');
});

test('a server is added in maint, set ready, drain and maint, moved, then deleted', { skip }, async () => {
  const b = haproxy.backend;
  assert.deepEqual(await client.servers(b), []);
  await client.add(b, 'h1_web_job', '127.0.0.1', 9001);
  assert.deepEqual(await client.servers(b), [{ id: 'h1_web_job', address: '127.0.0.1', port: 9001, state: 'maint' }]);
  await client.setState(b, 'h1_web_job', 'ready');
  assert.equal((await client.servers(b))[0]!.state, 'ready');
  await client.setState(b, 'h1_web_job', 'drain');
  assert.equal((await client.servers(b))[0]!.state, 'drain');
  await client.setAddress(b, 'h1_web_job', '127.0.0.2', 9002);
  await client.setAddress(b, 'h1_web_job', '127.0.0.2', 9002); // nothing to change is no error
  assert.deepEqual(await client.servers(b), [{ id: 'h1_web_job', address: '127.0.0.2', port: 9002, state: 'drain' }]);
  assert.deepEqual([...(await client.sessions(b))], [['h1_web_job', 0]]);
  await client.add(b, 'v6', '::1', 9003);
  assert.deepEqual((await client.servers(b))[1], { id: 'v6', address: '::1', port: 9003, state: 'maint' });
  // deleting needs maint: haproxy's refusal is an error that quotes it
  await assert.rejects(client.remove(b, 'h1_web_job'), (err: NoopsError) => {
    assert.equal(err.code, 'NOOPS_E_BALANCER_DRIVE');
    assert.match(err.message, /refused `del server pool\/h1_web_job`: Only servers in maintenance mode can be deleted/);
    return true;
  });
  assert.equal(await client.addReady(b, 'joined', '127.0.0.1', 9004), undefined);
  assert.deepEqual((await client.servers(b))[2], { id: 'joined', address: '127.0.0.1', port: 9004, state: 'ready' });
  // the add refused (the id is there already): thrown with haproxy's words
  await assert.rejects(
    client.addReady(b, 'joined', '127.0.0.2', 9005),
    /refused `add server pool\/joined 127\.0\.0\.2:9005`: Already exists a server/,
  );
  await client.setState(b, 'joined', 'maint');
  assert.equal(await client.remove(b, 'joined'), true);
  await client.setState(b, 'h1_web_job', 'maint');
  assert.equal(await client.remove(b, 'h1_web_job'), true);
  assert.equal(await client.remove(b, 'v6'), true);
  assert.deepEqual(await client.servers(b), []);
});

test('refusals and a missing socket are errors that say what was asked', { skip }, async () => {
  const refused = async (p: Promise<unknown>, re: RegExp) =>
    assert.rejects(p, (err: NoopsError) => {
      assert.equal(err.code, 'NOOPS_E_BALANCER_DRIVE');
      assert.match(err.message, re);
      return true;
    });
  await refused(client.servers('nope'), /show servers state nope`: Can't find backend/);
  await refused(client.sessions('nope'), /show stat nope 4 -1`: No such proxy/);
  await refused(client.setState(haproxy.backend, 'absent', 'ready'), /No such server/);
  await client.add(haproxy.backend, 'twice', '127.0.0.1', 9100);
  await refused(client.add(haproxy.backend, 'twice', '127.0.0.1', 9100), /Already exists a server/);
  await client.setState(haproxy.backend, 'twice', 'maint');
  assert.equal(await client.remove(haproxy.backend, 'twice'), true);
  // one command per connection: no second command smuggled in
  await assert.rejects(client.command('show info; shutdown frontend web'), { code: 'NOOPS_E_INPUT' });
  const gone = new HaproxyClient(join(tmpdir(), 'noops-no-such-haproxy.sock'));
  await refused(gone.servers('pool'), /cannot reach haproxy's runtime API at .*noops-no-such-haproxy\.sock: ENOENT/);
});
