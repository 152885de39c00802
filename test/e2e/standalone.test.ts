/**
 * A standalone agent (no server): the host's own watches file, `noops ctl` status, log, cron,
 * signal and load, a crash loop that ends in flapping, and nuke.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, killSupervised, NOOPS, startStandaloneAgent, tmp, until, type Proc } from './harness.js';

const base = tmp('standalone');
const root = join(base, 'agent');
const watches = join(base, 'watches.yaml');
const work = join(base, 'work');
let agent: Proc;

after(async () => {
  await agent?.stop();
  killSupervised(root);
  cleanup([base]);
});

/** Runs `noops ctl --root ROOT ...`. */
function ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [NOOPS, 'ctl', '--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

test("a standalone agent runs the host's watches file", { timeout: 600_000 }, async (t) => {
  mkdirSync(work, { recursive: true });
  writeFileSync(
    watches,
    `
env:
  GREETING: hello
processes:
  ticker:
    command: 'trap "echo got-hup" HUP; while :; do echo "$GREETING $(date +%s%N)"; sleep 0.2; done'
    dir: ${work}
crons:
  touch:
    schedule: "* * * * * *"
    command: 'echo "$GREETING" >> touched'
    dir: ${work}
`,
  );
  agent = startStandaloneAgent(root, watches);
  await until('the ticker up', async () => (await ctl('status', 'ticker')).code === 0, 60_000);

  await t.test('status, log, signal and cron over the control socket', async () => {
    const st = await ctl('status');
    assert.match(st.stdout, /^ticker\[\d+\]: up \(/m);
    assert.match(st.stdout, /^touch(\[\d+\])?: (scheduled|running) \(/m);
    const log = await ctl('log', 'ticker', '-n', '2', '--no-follow');
    assert.match(log.stdout, /^==> .*ticker\.out\.log <==\n(hello \d+\n){2}/);
    assert.equal((await ctl('signal', 'ticker', 'HUP')).code, 0);
    await until('the trap ran', async () => /got-hup/.test((await ctl('log', 'ticker', '1', '-n', '50')).stdout), 30_000);
    const files = await ctl('log', 'ticker', '--files');
    assert.match(files.stdout, /^ticker:\n {3}1\. ticker\.out\.log {2}\d+ bytes/);
    await until('cron runs', () => readFileSync(join(work, 'touched'), 'utf8').split('\n').length > 2, 30_000);
    const cron = await ctl('cron', 'touch', '--json');
    const [c] = JSON.parse(cron.stdout) as { id: string; runs: number; lastRun: { result: string } | null }[];
    assert.equal(c!.id, 'touch');
    assert.ok(c!.runs >= 2);
  });

  await t.test('log -f follows live until interrupted', async () => {
    const child = spawn(process.execPath, [NOOPS, 'ctl', '--root', root, 'log', 'ticker', '-n', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await until('live lines', () => (out.match(/hello \d+/g) ?? []).length >= 3, 30_000);
    child.kill('SIGINT');
    await exited;
  });

  await t.test('load: a new watch that exits at once ends in flapping; a removed one stops', async () => {
    writeFileSync(
      watches,
      `
processes:
  crasher:
    command: 'echo "no config" >&2; exit 1'
    dir: ${work}
    flapping: { times: 3, within: 60, retry_in: 600 }
`,
    );
    const r = await ctl('load');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'started: crasher\nstopped: ticker\nrestarted: -\n');
    const st = await until(
      'flapping',
      async () => {
        const s = await ctl('status', 'crasher');
        return (
          /crasher: flapping \(restarted 3 times within 60 s \(last: exited with code 1\); retry in 600 s; retry at /.test(s.stdout) && s
        );
      },
      60_000,
    );
    assert.equal(st.code, 2);
    assert.equal((await ctl('status', 'ticker')).code, 1, 'ticker is gone from the file, so unknown');
    const events = await ctl('events', 'crasher');
    assert.match(events.stdout, /crasher {2}flapping: restarted 3 times/);
  });

  await t.test('a bad watches file changes nothing and says why', async () => {
    writeFileSync(watches, 'processes:\n  crasher:\n    command: x\n    restart: sometimes\n');
    const r = await ctl('load');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /watches\.yaml:4: processes\.crasher\.restart: expected always, on-failure or never/);
    assert.match((await ctl('status', 'crasher')).stdout, /crasher: flapping/);
  });

  await t.test('nuke stops everything and the agent', async () => {
    assert.equal((await ctl('nuke')).code, 0);
    await until('the agent exited', () => agent.child.exitCode !== null, 30_000);
    const r = await ctl('status');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /NOOPS_E_AGENT_UNREACHABLE/);
  });
});
