import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DesiredInstance } from '../api/index.js';
import { detectStack } from '../build/detect.js';
import { DEFAULT_FLAPPING, processDefaults, type ProcessSpec } from '../release/index.js';
import {
  DEFAULT_BACKOFF_BASE_MS,
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_STABLE_MS,
  planRestart,
  Supervisor,
  type ProcessState,
} from '../supervisor/index.js';
import { cronSpec, instanceDirs, watchSpec } from './specs.js';
import type { HostUsers } from './run-as.js';

/** An agent that is not root, or one given no default user: processes run as itself. */
const SELF: HostUsers = { defaultUser: null };

const TAG = 'cop.a_owt.b_pdl.c_service.d_job.e_cluster.prod';
function desired(processes: ProcessSpec[]): DesiredInstance {
  return {
    tag: TAG,
    version: 'abcdef123',
    sha256: 'x',
    url: '/x',
    deploymentId: 1,
    kind: 'deploy',
    manifest: {
      schema: 1,
      job: 'j',
      version: 'abcdef123',
      commit: 'c',
      repo: 'r',
      builtAt: 'b',
      stack: 's',
      env: { A: '1' },
      processes,
      crons: [
        { name: 'report', schedule: '0 3 * * *', timezone: 'Asia/Shanghai', command: './r.sh', env: { B: '2' }, timeout: 60, user: null },
      ],
    },
  };
}

test("a process of an older manifest (no supervision keys) leaves the supervisor's defaults in place", () => {
  const old: ProcessSpec = {
    name: 'web',
    command: 'node s.js',
    port: 'auto',
    env: {},
    stopSignal: 'SIGTERM',
    stopTimeout: 10,
    startGrace: 2,
  };
  const ws = watchSpec('/root', desired([old]), old, 8080, SELF);
  assert.equal(ws.id, `${TAG}/web`);
  assert.equal(ws.env.PORT, '8080');
  assert.equal(ws.cwd, `/root/jobs/${TAG}/releases/abcdef123`);
  assert.deepEqual([ws.restart, ws.flapping, ws.logs, ws.stopCommand, ws.user], [undefined, undefined, undefined, undefined, undefined]);
  assert.deepEqual(ws.conditions, []);
});

test("supervision keys become the supervisor's units; checks of the own port get the port", () => {
  const base = { interval: 2, times: 3, of: 5, action: 'restart' as const };
  const p: ProcessSpec = {
    ...processDefaults('web', { command: 'node s.js' }),
    restart: 'on-failure',
    stopCommand: './stop',
    user: 'www-data',
    flapping: false,
    logs: { maxSize: 1000, keep: 2 },
    conditions: [
      { kind: 'http', path: '/health', url: null, codeIs: [200], codeIsNot: null, timeout: 1.5, ...base },
      { kind: 'tcp', host: '127.0.0.1', port: null, timeout: 1, ...base },
      { kind: 'memory', above: 1024, ...base },
    ],
  };
  const ws = watchSpec('/root', desired([p]), p, 9000, SELF);
  assert.equal(ws.restart, 'on-failure');
  assert.equal(ws.flapping, null);
  assert.deepEqual(ws.logs, { maxBytes: 1000, keep: 2 });
  assert.equal(ws.stopCommand, './stop');
  assert.equal(ws.user, 'www-data');
  const timing = { intervalMs: 2000, times: 3, of: 5, action: 'restart' };
  assert.deepEqual(ws.conditions, [
    { kind: 'http', url: 'http://127.0.0.1:9000/health', codeIs: [200], timeoutMs: 1500, ...timing },
    { kind: 'tcp', host: '127.0.0.1', port: 9000, timeoutMs: 1000, ...timing },
    { kind: 'memory', aboveBytes: 1024, ...timing },
  ]);
});

test('a cron runs in the release folder with the job environment; its logs are cron-NAME', () => {
  const d = desired([processDefaults('web', { command: 'x' })]);
  const c = cronSpec('/root', d, d.manifest.crons![0]!, SELF);
  assert.equal(c.id, `${TAG}/report`);
  assert.equal(c.timezone, 'Asia/Shanghai');
  assert.equal(c.logName, 'cron-report');
  assert.equal(c.timeoutMs, 60_000);
  assert.equal(c.env.A, '1');
  assert.equal(c.env.B, '2');
  assert.equal(c.env.NOOPS_DATA_DIR, `/root/jobs/${TAG}/shared/data`);
});

test("a process and a cron run as their user:, else as the host's default user; root only where the instance allows it", () => {
  const noops: HostUsers = { defaultUser: 'noops' };
  const data = `/root/jobs/${TAG}/shared/data`;
  const web = processDefaults('web', { command: 'x' });
  const d = desired([web]);
  const pick = (ws: { user?: string; allowRoot?: boolean; writable?: string[] }) => ({
    user: ws.user,
    allowRoot: ws.allowRoot,
    writable: ws.writable,
  });
  assert.deepEqual(pick(watchSpec('/root', d, web, 1, noops)), { user: 'noops', allowRoot: false, writable: [data] });
  assert.deepEqual(pick(watchSpec('/root', d, web, 1, SELF)), { user: undefined, allowRoot: false, writable: [data] });
  assert.deepEqual(pick(watchSpec('/root', d, { ...web, user: 'root' }, 1, noops)), { user: 'root', allowRoot: false, writable: [data] });
  assert.deepEqual(pick(watchSpec('/root', { ...d, allowRoot: true }, { ...web, user: 'root' }, 1, noops)), {
    user: 'root',
    allowRoot: true,
    writable: [data],
  });
  assert.deepEqual(pick(watchSpec('/root', d, { ...web, user: 'www-data' }, 1, noops)), {
    user: 'www-data',
    allowRoot: false,
    writable: [data],
  });
  const cron = d.manifest.crons![0]!;
  assert.deepEqual(pick(cronSpec('/root', d, cron, noops)), { user: 'noops', allowRoot: false, writable: [data] });
  assert.deepEqual(pick(cronSpec('/root', { ...d, allowRoot: true }, { ...cron, user: '0' }, noops)), {
    user: '0',
    allowRoot: true,
    writable: [data],
  });
});

test('a Procfile-only release whose process exits at once ends in flapping by the manifest defaults, not in endless restarts', async () => {
  // No noops.yaml: every supervision setting is processDefaults'.
  const { processes, stack } = detectStack({ procfile: 'worker: echo boom >&2; exit 3\n', hasLock: false });
  assert.equal(stack, 'procfile');
  const [spec] = processes as [ProcessSpec];
  assert.deepEqual([spec.restart, spec.flapping, spec.startGrace], ['always', DEFAULT_FLAPPING, 2]);
  // Root allowed: the test may run as root, and is about restarts, not users.
  const d = { ...desired(processes), allowRoot: true };
  const root = mkdtempSync(join(tmpdir(), 'noops-procfile-flap-'));
  mkdirSync(instanceDirs(root, d).release, { recursive: true });
  const ws = watchSpec(root, d, spec, undefined, SELF);
  const flapping = { times: 5, withinMs: 120_000, retryInMs: 300_000, retryTimes: 5, retryWithinMs: 3_600_000 };
  assert.deepEqual([ws.restart, ws.flapping], ['always', flapping], 'the spec carries the policy itself');

  // With the default backoff, the 4 restarts before the 5th death wait 0 + 1 + 2 + 4 s, well
  // inside the 120 s window: a crash loop ends in flapping within seconds, not minutes.
  let death = { state: 'starting' as const, upForMs: null, nextBackoffMs: 0, failedStarts: 0 };
  let waited = 0;
  for (let i = 0; i < flapping.times - 1; i++) {
    const plan = planRestart(death, {
      backoffBaseMs: DEFAULT_BACKOFF_BASE_MS,
      backoffMaxMs: DEFAULT_BACKOFF_MAX_MS,
      stableMs: DEFAULT_STABLE_MS,
    });
    waited += plan.delayMs;
    death = { ...death, nextBackoffMs: plan.nextBackoffMs, failedStarts: plan.failedStarts };
  }
  assert.equal(waited, 7_000);

  // The real supervisor, with a short backoff for the test and no flapping policy of its own: only
  // the spec's (the manifest's defaults) can make it flap.
  const sup = new Supervisor({ backoffBaseMs: 10, flapping: null });
  const states: ProcessState[] = [];
  sup.on('state', (st) => {
    if (st.id === ws.id) states.push(st.state);
  });
  try {
    sup.start(ws);
    const deadline = Date.now() + 20_000;
    while (sup.status(ws.id)?.state !== 'flapping' && Date.now() < deadline) await sleep(20);
    const st = sup.status(ws.id)!;
    assert.equal(st.state, 'flapping', `${st.state}: ${st.reason}`);
    assert.match(st.reason, /^restarted 5 times within 120 s \(last: exited with code 3\); retry in 300 s/);
    assert.equal(st.pid, null);
    assert.ok(st.retryAt! - Date.now() > 290_000, 'retried in 5 minutes');
    assert.deepEqual(
      states,
      [...Array<ProcessState[]>(4).fill(['starting', 'backoff']).flat(), 'starting', 'flapping'],
      'five deaths, then flapping',
    );
    assert.deepEqual(
      sup.events(0, ws.id).map((e) => e.kind),
      ['started', ...Array<string[]>(4).fill(['crash', 'restart']).flat(), 'crash', 'flapping'],
    );
    const seen = states.length;
    await sleep(300); // 30 backoffs' worth: nothing starts again by itself
    assert.equal(states.length, seen);
    assert.equal(sup.status(ws.id)?.state, 'flapping');
  } finally {
    await sup.stopAll();
    rmSync(root, { recursive: true, force: true });
  }
});

test("secrets: the release's and the process's secretEnv get their values from the desired state; the process's win", () => {
  const p: ProcessSpec = { ...processDefaults('web', { command: 'x', env: { LEVEL: '3' }, secretEnv: { API_KEY: 'api', DB: 'db-web' } }) };
  const d = desired([p]);
  d.manifest.secretEnv = { DB: 'db', SMTP: 'smtp' };
  d.secrets = { api: 'k-123', db: 'p-all', 'db-web': 'p-web' }; // smtp missing: left out
  const ws = watchSpec('/root', d, p, 8080, SELF);
  assert.deepEqual([ws.env.A, ws.env.LEVEL, ws.env.API_KEY, ws.env.DB, ws.env.SMTP], ['1', '3', 'k-123', 'p-web', undefined]);
  // a cron gets the release's secrets
  const cs = cronSpec('/root', d, d.manifest.crons![0]!, SELF);
  assert.deepEqual([cs.env.DB, cs.env.B, cs.env.API_KEY], ['p-all', '2', undefined]);
});
