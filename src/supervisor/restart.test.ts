/** Restart policies, flapping, restart/resume/signal and stop commands, with real processes. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Supervisor, type ProcessStatus } from './index.js';
import { assertGroupGone, Scratch, until } from './test-kit.js';

const scratch = new Scratch();
after(() => scratch.remove());

describe('flapping', () => {
  test('a process that exits at once backs off, goes flapping, is retried later, and is given up', async () => {
    const sup = new Supervisor({
      backoffBaseMs: 30,
      flapping: { times: 3, withinMs: 10_000, retryInMs: 300, retryTimes: 1, retryWithinMs: 60_000 },
    });
    const s = scratch.spec('echo nope >&2; exit 1', { startGraceMs: 500 });
    const seen: ProcessStatus[] = [];
    sup.on('state', (st) => seen.push(st));
    sup.start(s);
    const given = await until('given up', () => seen.find((st) => st.state === 'flapping' && st.retryAt === null));
    const states = seen.map((st) => st.state);
    assert.deepEqual(states, [
      'starting',
      'backoff',
      'starting',
      'backoff',
      'starting',
      'flapping', // 3 deaths within 10 s
      'starting',
      'backoff',
      'starting',
      'backoff',
      'starting',
      'flapping', // retried once, flapping again
    ]);
    const firstFlap = seen[5]!;
    assert.ok(firstFlap.retryAt !== null && firstFlap.retryAt > firstFlap.since, 'a retry is scheduled');
    assert.match(firstFlap.reason, /restarted 3 times within 10 s \(last: exited with code 1\); retry in 0.3 s/);
    assert.ok(seen[6]!.since >= firstFlap.retryAt! - 5, 'retried after the pause, not before');
    assert.match(given.reason, /^given up: flapping 2 times within 60 s/);
    assert.equal(given.pid, null);
    assert.deepEqual(
      sup.events(0, s.id).map((e) => e.kind),
      [
        'started',
        'crash',
        'restart',
        'crash',
        'restart',
        'crash',
        'flapping',
        'restart',
        'crash',
        'restart',
        'crash',
        'restart',
        'crash',
        'given-up',
      ],
    );
    // Given up means given up: nothing starts again by itself.
    const n = seen.length;
    await sleep(500);
    assert.equal(seen.length, n);
    // Started by hand, it gets a fresh history.
    const again = sup.resume(s.id)!;
    assert.equal(again.state, 'starting');
    assert.equal(again.failedStarts, 0);
    await sup.stop(s.id);
    assert.equal(sup.status(s.id)?.state, 'stopped');
  });

  test('with no flapping policy named, a crash loop ends in flapping by the defaults', async () => {
    const sup = new Supervisor({ backoffBaseMs: 10 });
    const s = scratch.spec('exit 7');
    sup.start(s);
    const st = await until('flapping', () => (sup.status(s.id)?.state === 'flapping' ? sup.status(s.id) : undefined));
    assert.match(st!.reason, /restarted 5 times within 120 s/);
    assert.ok(st!.retryAt! - Date.now() > 250_000, 'retried in about 5 minutes');
    await sup.stop(s.id);
  });
});

describe('restart policy', () => {
  test('on-failure: a clean exit ends in exited; a failure is restarted', async () => {
    const sup = new Supervisor({ flapping: null });
    const ok = scratch.spec('exit 0', { restart: 'on-failure' });
    const bad = scratch.spec('sleep 0.2; exit 3', { restart: 'on-failure' });
    sup.start(ok);
    sup.start(bad);
    const exited = await until('exited', () => (sup.status(ok.id)?.state === 'exited' ? sup.status(ok.id) : undefined));
    assert.match(exited!.reason, /exited with code 0 \(restart policy on-failure/);
    assert.equal(exited!.lastExit?.code, 0);
    assert.equal(exited!.restartPolicy, 'on-failure');
    await until('a restart of the failing one', () => (sup.status(bad.id)?.restarts ?? 0) >= 1);
    assert.deepEqual(
      sup.events(0, ok.id).map((e) => e.kind),
      ['started', 'exited'],
    );
    await sup.stopAll();
  });

  test('never: any exit ends in exited, with its code', async () => {
    const sup = new Supervisor();
    const s = scratch.spec('exit 4', { restart: 'never' });
    sup.start(s);
    const st = await until('exited', () => (sup.status(s.id)?.state === 'exited' ? sup.status(s.id) : undefined));
    assert.equal(st!.lastExit?.code, 4);
    assert.equal(st!.restarts, 0);
    assert.equal(st!.failedStarts, 1, 'it died before up');
    await sup.stop(s.id);
    assert.equal(sup.status(s.id)?.state, 'stopped');
  });
});

describe('control', () => {
  test('restart gives a new process and keeps the count of unasked restarts', async () => {
    const sup = new Supervisor();
    const s = scratch.spec('exec sleep 1000');
    const first = sup.start(s);
    await until('up', () => sup.status(s.id)?.state === 'up');
    const st = await sup.restart(s.id);
    assert.equal(st?.state, 'starting');
    assert.notEqual(st?.pid, first.pid);
    assert.equal(st?.restarts, 0);
    assertGroupGone(first.pid!);
    await until('up again', () => sup.status(s.id)?.state === 'up');
    await sup.stop(s.id);
  });

  test('stop during a restart ends stopped; resume starts a stopped process', async () => {
    const sup = new Supervisor();
    const s = scratch.spec(`trap 'sleep 0.3; exit 0' TERM; while :; do sleep 0.05; done`);
    sup.start(s);
    await until('up', () => sup.status(s.id)?.state === 'up');
    const restarting = sup.restart(s.id);
    await sup.stop(s.id);
    await restarting;
    assert.equal(sup.status(s.id)?.state, 'stopped');
    assert.equal(sup.status(s.id)?.pid, null);
    assert.equal(sup.resume(s.id)?.state, 'starting');
    await sup.stop(s.id);
  });

  test('signal reaches the group; a stopped process cannot be signalled', async () => {
    const sup = new Supervisor();
    const marker = join(scratch.dir, 'hup');
    const s = scratch.spec(`trap 'echo hup > ${marker}' HUP; while :; do sleep 0.05; done`);
    sup.start(s);
    await until('up', () => sup.status(s.id)?.state === 'up');
    sup.signal(s.id, 'hup');
    await until('the trap ran', () => existsSync(marker));
    assert.throws(() => sup.signal(s.id, 'NOPE'), /not a signal/);
    await sup.stop(s.id);
    assert.throws(() => sup.signal(s.id, 'HUP'), { code: 'NOOPS_E_INPUT' });
  });

  test('a stop command stops the process; the group is SIGKILLed when it does not', async () => {
    const sup = new Supervisor();
    const marker = join(scratch.dir, 'stopcmd');
    const s = scratch.spec(`trap 'exit 0' USR1; while :; do sleep 0.05; done`, {
      stopCommand: `echo "stopping $NOOPS_PID" > ${marker}; kill -USR1 $NOOPS_PID`,
    });
    const { pid } = sup.start(s);
    await until('up', () => sup.status(s.id)?.state === 'up');
    await sup.stop(s.id);
    assert.equal(readFileSync(marker, 'utf8'), `stopping ${pid}\n`);
    assert.equal(sup.status(s.id)?.reason, 'stopped by request (the stop command)');

    const stuck = scratch.spec('sleep 1000 & sleep 1000', { stopCommand: 'true', stopTimeoutMs: 200 });
    const p2 = sup.start(stuck).pid!;
    await until('up', () => sup.status(stuck.id)?.state === 'up');
    await sup.stop(stuck.id);
    assert.match(sup.status(stuck.id)!.reason, /killed with SIGKILL: still running 200 ms after the stop command/);
    assertGroupGone(p2);
  });

  test('a user it cannot become is refused at start', () => {
    const sup = new Supervisor();
    assert.throws(() => sup.start(scratch.spec('true', { user: 'no-such-user-here' })), /does not exist on this host/);
  });
});

describe('shellScript', () => {
  test("a simple command is exec'd; compound ones are left alone", async () => {
    const { shellScript } = await import('./index.js');
    const path = process.env.PATH;
    assert.equal(shellScript('node server.js', path), 'exec node server.js');
    assert.equal(shellScript('  sleep "$T" > /dev/null', path), 'exec sleep "$T" > /dev/null');
    assert.equal(shellScript('./sh -c x', '', '/bin'), 'exec ./sh -c x');
    for (const c of [
      'a; b',
      'a && b',
      'a | b',
      'sleep 1 &',
      '(cd x)',
      'echo `date`',
      'echo $(date)',
      'FOO=1 node x',
      'while :; do :; done',
      'if true\nthen :; fi',
      'exec node x',
      'exit 0',
      'cd /tmp',
      'no-such-program x',
      '"node" x',
      './missing',
    ]) {
      assert.equal(shellScript(c, path), c, c);
    }
  });

  test('the pid of a simple command is the process itself', async () => {
    const sup = new Supervisor();
    const s = scratch.spec('sleep 1000');
    const { pid } = sup.start(s);
    await until('up', () => sup.status(s.id)?.state === 'up');
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^sleep\0/);
    await sup.stop(s.id);
  });
});
