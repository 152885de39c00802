import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WatchView } from '../agent/ctl.js';
import { localTime, statusExitCode, statusLine } from './ctl-output.js';

const base: WatchView = {
  id: 'web',
  kind: 'process',
  tag: null,
  name: 'web',
  version: null,
  state: 'up',
  pid: 42,
  startedAt: Date.UTC(2024, 4, 1, 12),
  since: 0,
  restarts: 0,
  reason: '',
  retryAt: null,
};

test('status lines: name[pid]: state (start time), or the reason when nothing runs', () => {
  assert.equal(statusLine(base), `web[42]: up (${localTime(Date.UTC(2024, 4, 1, 12))})`);
  assert.equal(
    statusLine({ ...base, state: 'exited', pid: null, startedAt: null, reason: 'exited with code 0 (restart policy never)' }),
    'web: exited (exited with code 0 (restart policy never))',
  );
  assert.match(
    statusLine({ ...base, state: 'flapping', pid: null, startedAt: null, reason: 'restarted 5 times', retryAt: 1 }),
    /^web: flapping \(restarted 5 times; retry at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)$/,
  );
  assert.match(
    statusLine({ ...base, kind: 'cron', state: 'scheduled', pid: null, nextRunAt: 0, lastRun: null }),
    /^web: scheduled \(next .*; not run yet\)$/,
  );
});

test('exit codes as god: 0 all up, 1 some stopped or exited, 2 some in trouble; crons do not count', () => {
  assert.equal(statusExitCode([base, { ...base, kind: 'cron', state: 'scheduled' }]), 0);
  assert.equal(statusExitCode([base, { ...base, state: 'stopped' }]), 1);
  assert.equal(
    statusExitCode([
      { ...base, state: 'exited' },
      { ...base, state: 'backoff' },
      { ...base, state: 'stopped' },
    ]),
    2,
  );
  assert.equal(statusExitCode([{ ...base, state: 'flapping' }]), 2);
  assert.equal(statusExitCode([]), 0);
});
