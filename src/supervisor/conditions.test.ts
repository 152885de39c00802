/** Conditions, judged N of M, each restarting (or only recording) on a real process. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { codeFails } from './probes.js';
import { describeCondition, formatBytes, judge, Supervisor, type ConditionSpec, type WatchSpec } from './index.js';
import { Scratch, until } from './test-kit.js';
import { freePort } from '../net/index.js';

const scratch = new Scratch();
after(() => scratch.remove());

/**
 * A node server on PORT (http or plain tcp) that misbehaves once the file `fail` holds its pid:
 * http answers 503, tcp closes its listener. Each start writes its pid to `pid`.
 */
const serverScript = join(scratch.dir, 'server.cjs');
writeFileSync(
  serverScript,
  `
const fs = require('fs');
const failing = () => { try { return fs.readFileSync('fail', 'utf8').trim() === String(process.pid); } catch { return false; } };
fs.writeFileSync('pid', String(process.pid));
const port = Number(process.env.PORT);
if (process.env.KIND === 'http') {
  require('http').createServer((req, res) => { res.statusCode = failing() ? 503 : 200; res.end('ok'); }).listen(port, '127.0.0.1');
} else {
  const srv = require('net').createServer((c) => c.end()).listen(port, '127.0.0.1');
  const t = setInterval(() => { if (failing()) { srv.close(); clearInterval(t); } }, 20);
  setInterval(() => {}, 1000);
}
`,
);

/** Starts `spec`, waits for up, breaks it with `breakIt`, and waits for the restart. */
async function restartsWhenBroken(spec: WatchSpec, breakIt: (pid: number) => void): Promise<{ sup: Supervisor; firstPid: number }> {
  const sup = new Supervisor();
  const first = sup.start(spec);
  await until('up', () => sup.status(spec.id)?.state === 'up');
  breakIt(first.pid!);
  await until('a restart by the condition', () => sup.status(spec.id)?.restarts === 1, 20_000);
  const kinds = sup.events(0, spec.id).map((e) => e.kind);
  assert.deepEqual(kinds.slice(0, 3), ['started', 'condition', 'restart']);
  assert.notEqual(sup.status(spec.id)!.pid, first.pid);
  return { sup, firstPid: first.pid! };
}

const every = { intervalMs: 100, times: 2, of: 3, action: 'restart' as const };

describe('conditions', () => {
  test('judge: N failures of the last M checks fire', () => {
    let w: boolean[] = [];
    const fired: boolean[] = [];
    for (const failed of [true, false, false, true, false, true]) {
      const v = judge(w, failed, 2, 3);
      w = v.window;
      fired.push(v.fires);
    }
    assert.deepEqual(fired, [false, false, false, false, false, true]);
    assert.deepEqual(w, [true, false, true]);
  });

  test('the words for a condition, and the HTTP code rules', () => {
    assert.equal(describeCondition({ kind: 'memory', aboveBytes: 100 * 1024 * 1024, ...every }), 'memory above 100 MiB (2 of 3 checks)');
    assert.equal(
      describeCondition({ kind: 'http', url: 'http://x/h', codeIs: [200], timeoutMs: 1, ...every, times: 3, of: 3 }),
      'http http://x/h (code is 200) (3 checks in a row)',
    );
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(codeFails({}, 302), false);
    assert.equal(codeFails({}, 404), true);
    assert.equal(codeFails({ codeIs: [200] }, 204), true);
    assert.equal(codeFails({ codeIsNot: [500, 503] }, 503), true);
  });

  test('memory growth past a limit restarts the process', async () => {
    const grow = `exec node -e "const a = []; setInterval(() => a.push(Buffer.alloc(16 << 20, 1)), 100)"`;
    const s = scratch.spec(grow, { conditions: [{ kind: 'memory', aboveBytes: 150 * 1024 * 1024, ...every }] });
    const { sup } = await restartsWhenBroken(s, () => undefined);
    assert.match(sup.events(0, s.id)[1]!.message, /^memory above 150 MiB \(2 of 3 checks\): rss \d+(\.\d)? MiB; restarting$/);
    await sup.stopAll();
  });

  test('an HTTP check that starts failing restarts the process', async () => {
    const port = await freePort();
    const cond: ConditionSpec = { kind: 'http', url: `http://127.0.0.1:${port}/health`, codeIs: [200], timeoutMs: 1_000, ...every };
    const s = scratch.spec(`exec node ${serverScript}`, {
      env: { ...scratch.spec('').env, PORT: String(port), KIND: 'http' },
      startGraceMs: 300,
      conditions: [cond],
    });
    const { sup } = await restartsWhenBroken(s, (pid) => writeFileSync(join(scratch.dir, 'fail'), String(pid)));
    assert.match(sup.events(0, s.id)[1]!.message, /\(code is 200\) \(2 of 3 checks\): HTTP 503; restarting$/);
    // The new process answers 200: no further restart.
    await until('up', () => sup.status(s.id)?.state === 'up');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(sup.status(s.id)?.restarts, 1);
    await sup.stopAll();
  });

  test('a TCP check that cannot connect restarts the process', async () => {
    const port = await freePort();
    const cond: ConditionSpec = { kind: 'tcp', host: '127.0.0.1', port, timeoutMs: 1_000, ...every };
    const s = scratch.spec(`exec node ${serverScript}`, {
      env: { ...scratch.spec('').env, PORT: String(port), KIND: 'tcp' },
      startGraceMs: 300,
      conditions: [cond],
    });
    const { sup } = await restartsWhenBroken(s, (pid) => writeFileSync(join(scratch.dir, 'fail'), String(pid)));
    assert.match(sup.events(0, s.id)[1]!.message, new RegExp(`^tcp 127.0.0.1:${port} \\(2 of 3 checks\\): ECONNREFUSED`));
    await sup.stopAll();
  });

  test('a command check that fails restarts the process; one with action event only records', async () => {
    const flag = join(scratch.dir, 'down');
    const restart = scratch.spec('exec sleep 1000', {
      conditions: [{ kind: 'command', command: `test ! -e ${flag}`, timeoutMs: 2_000, ...every }],
    });
    const record = scratch.spec('exec sleep 1000', {
      conditions: [{ kind: 'command', command: `test ! -e ${flag}`, timeoutMs: 2_000, ...every, action: 'event' }],
    });
    const watcher = new Supervisor();
    const quiet = watcher.start(record);
    const { sup } = await restartsWhenBroken(restart, () => writeFileSync(flag, ''));
    assert.match(sup.events(0, restart.id)[1]!.message, /^command `test ! -e .*` \(2 of 3 checks\): exit 1; restarting$/);
    await until('the event of the other', () => watcher.events(0, record.id).some((e) => e.kind === 'condition'));
    const st = watcher.status(record.id)!;
    assert.equal(st.pid, quiet.pid, 'action event does not restart');
    assert.equal(st.restarts, 0);
    await Promise.all([sup.stopAll(), watcher.stopAll()]);
  });

  test('CPU above a limit restarts the process', async () => {
    const s = scratch.spec('while :; do :; done', {
      conditions: [{ kind: 'cpu', abovePercent: 20, intervalMs: 300, times: 2, of: 3, action: 'restart' }],
    });
    const { sup } = await restartsWhenBroken(s, () => undefined);
    assert.match(sup.events(0, s.id)[1]!.message, /^cpu above 20% \(2 of 3 checks\): cpu \d+\.\d%; restarting$/);
    await sup.stopAll();
  });
});
