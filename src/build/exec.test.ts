import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from './exec.js';

const env = { PATH: process.env.PATH };

test('run captures output, streams it, and reports the exit code', async () => {
  const seen: string[] = [];
  const r = await run('/bin/sh', ['-c', 'echo out; echo err >&2; exit 3'], {
    env,
    deadline: Date.now() + 5000,
    onOutput: (t) => seen.push(t),
  });
  assert.deepEqual(
    { code: r.code, signal: r.signal, timedOut: r.timedOut, stdout: r.stdout, stderr: r.stderr },
    {
      code: 3,
      signal: null,
      timedOut: false,
      stdout: 'out\n',
      stderr: 'err\n',
    },
  );
  assert.equal(seen.sort().join(''), 'err\nout\n');
});

test('at the deadline the whole process group is killed, children included', async () => {
  const started = Date.now();
  const r = await run('/bin/sh', ['-c', 'sleep 30 & sleep 30; echo never'], { env, deadline: Date.now() + 300 });
  assert.equal(r.timedOut, true);
  assert.equal(r.signal, 'SIGTERM');
  assert.ok(Date.now() - started < 30_000, 'the background sleep must not hold the pipes open');
});

test('what a finished command left running in the background is killed', async () => {
  const started = Date.now();
  const r = await run('/bin/sh', ['-c', 'sleep 30 & echo done'], { env, deadline: Date.now() + 20_000 });
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'done\n');
  assert.ok(Date.now() - started < 30_000, 'the background sleep was killed, not waited for');
});

test('a program that cannot start rejects', async () => {
  await assert.rejects(run('/no/such/program', [], { env, deadline: Date.now() + 1000 }), { code: 'ENOENT' });
});
