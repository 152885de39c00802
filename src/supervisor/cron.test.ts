/** Scheduled commands with croner schedules and real processes. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CronRunner, type CronSpec } from './index.js';
import { Scratch, until, waitGroupGone } from './test-kit.js';

const scratch = new Scratch();
/** Every runner a test made: stopped at the end even when its test failed half-way (a runner left going keeps this file's process alive forever). */
const runners: CronRunner[] = [];
function runnerOf(opts?: ConstructorParameters<typeof CronRunner>[0]): CronRunner {
  const r = new CronRunner(opts);
  runners.push(r);
  return r;
}
after(() => {
  for (const r of runners) r.stopAll();
  scratch.remove();
});

let seq = 0;
function cron(command: string, over: Partial<CronSpec> = {}): CronSpec {
  seq++;
  return {
    id: `c${seq}`,
    schedule: '* * * * * *',
    command,
    cwd: scratch.dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', GREETING: 'hi' },
    logDir: join(scratch.dir, 'log'),
    logName: `cron-${seq}`,
    timeoutMs: 0,
    ...over,
  };
}

describe('schedules', () => {
  // The schedule syntax itself is tested beside it, in release/schedule.test.ts.
  test('a cron with a bad schedule is refused with what is wrong', () => {
    assert.throws(() => runnerOf().add(cron('true', { schedule: 'every minute' })), { code: 'NOOPS_E_INPUT' });
  });
});

describe('CronRunner', () => {
  test('a command runs on schedule with its environment, its output logged, its last result kept', async () => {
    const runner = runnerOf();
    const events: string[] = [];
    runner.on('event', (_id, kind, message) => events.push(`${kind}: ${message}`));
    const spec = cron('echo "$GREETING from $(pwd)"; echo oops >&2; exit 3');
    const addedAt = Date.now();
    const st = runner.add(spec);
    assert.ok(st.nextRunAt! > addedAt - 5 && st.nextRunAt! <= Date.now() + 1_000, 'the next run is within a second');
    const done = await until('two runs', () => {
      const s = runner.status(spec.id)!;
      return s.runs >= 2 && s.running === null && s;
    });
    runner.stopAll();
    assert.equal(done.lastRun?.result, 'failed');
    assert.equal(done.lastRun?.code, 3);
    assert.match(done.lastRun!.message, /^ran \d+\.\d s: exit 3$/);
    assert.match(readFileSync(done.logs.out, 'utf8'), new RegExp(`^(hi from ${scratch.dir}\\n){2,}$`));
    assert.match(readFileSync(done.logs.err, 'utf8'), /^(oops\n){2,}$/);
    assert.match(events[0]!, /^cron-failed: ran \d+\.\d s: exit 3$/);
  });

  test('a run never overlaps itself: runs that come while it runs are skipped and counted', async () => {
    const runner = runnerOf();
    const trace = join(scratch.dir, 'trace');
    const spec = cron(`echo "start $(date +%s%N)" >> ${trace}; sleep 2.2; echo "end $(date +%s%N)" >> ${trace}`);
    runner.add(spec);
    const st = await until(
      'two runs and a skip',
      () => {
        const s = runner.status(spec.id)!;
        return s.runs >= 2 && s.skipped >= 2 && s;
      },
      20_000,
    );
    await until('the run to end', () => runner.status(spec.id)!.running === null, 10_000);
    runner.remove(spec.id);
    const lines = readFileSync(trace, 'utf8').trim().split('\n');
    // start, end, start, end ...: strictly alternating, each start after the previous end.
    let lastEnd = 0n;
    for (let i = 0; i < lines.length; i += 2) {
      const [s, sAt] = lines[i]!.split(' ');
      const [e, eAt] = lines[i + 1]!.split(' ');
      assert.deepEqual([s, e], ['start', 'end'], `run ${i / 2} did not overlap another`);
      assert.ok(BigInt(sAt!) > lastEnd);
      lastEnd = BigInt(eAt!);
    }
    assert.ok(st.skipped >= 2);
    assert.equal(runner.status(spec.id), undefined, 'removed once its run ended');
  });

  test('a run past its timeout is stopped, its whole group with it', async () => {
    const runner = runnerOf({ killGraceMs: 200 });
    const spec = cron(`trap '' TERM; sleep 1000 & sleep 1000`, { timeoutMs: 300, schedule: '0 0 1 1 *' });
    runner.add(spec);
    const started = runner.runNow(spec.id)!;
    const pid = started.running!.pid;
    const st = await until('timed out', () => {
      const s = runner.status(spec.id)!;
      return s.lastRun && s;
    });
    assert.equal(st.lastRun?.result, 'timed out');
    assert.match(st.lastRun!.message, /^timed out after 0.3 s: killed by SIGKILL$/);
    await waitGroupGone(pid);
    runner.stopAll();
  });

  test('a run a previous runner left going is adopted: no second run beside it', async () => {
    const first = runnerOf();
    const spec = cron('sleep 1.5', { schedule: '0 0 1 1 *' });
    first.add(spec);
    first.runNow(spec.id);
    const [left] = first.detach();
    const second = runnerOf({ pollMs: 50 });
    second.add(spec);
    second.adoptRun(spec.id, { pid: left!.running!.pid, startTime: left!.running!.startTime!, startedAt: left!.running!.startedAt });
    second.runNow(spec.id);
    assert.equal(second.status(spec.id)?.skipped, 1);
    const st = await until('the adopted run ended', () => {
      const s = second.status(spec.id)!;
      return s.lastRun && s;
    });
    assert.equal(st.lastRun?.result, 'unknown');
    second.stopAll();
  });
});

describe('CronRunner, a cron replaced while it runs (a new release)', () => {
  test('the run in progress still counts: no second run beside it, and its end is recorded', async () => {
    const runner = runnerOf();
    const spec = cron('sleep 1', { schedule: '0 0 1 1 *' });
    runner.add(spec);
    runner.runNow(spec.id);
    runner.remove(spec.id);
    const again = runner.add({ ...spec, command: 'echo v2' });
    assert.ok(again.running, 'the old run is still known');
    assert.equal(runner.runNow(spec.id)?.skipped, 1);
    const st = await until('the old run ended', () => {
      const s = runner.status(spec.id)!;
      return s.lastRun && s;
    });
    assert.equal(st.lastRun?.result, 'ok');
    assert.equal(st.command, 'echo v2');
    runner.stopAll();
  });
});
