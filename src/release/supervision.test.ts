import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectStack } from '../build/detect.js';
import { parseNoopsYaml } from './noops-yaml.js';
import { parseSize, processDefaults, validateManifest, type ReleaseManifest } from './index.js';

const YAML = `
processes:
  web:
    command: node server.js
    restart: on-failure
    stop_command: ./graceful-stop.sh
    user: www-data
    flapping: { times: 3, within: 60, retry_in: 600 }
    logs: { max_size: 50MB, keep: 3 }
    conditions:
      - memory: 500MB
        times: [3, 5]
      - cpu: 90
        interval: 5
        times: 2
      - http: /health
        code_is: 200
        timeout: 2
      - tcp: true
        action: event
      - tcp: db.local:5432
      - command: ./check.sh
  worker:
    command: ./work
    flapping: false
crons:
  report:
    schedule: "0 3 * * *"
    timezone: Asia/Shanghai
    command: ./report.sh
    timeout: 3600
  tick:
    schedule: "*/10 * * * * *"
    command: date
`;

test('noops.yaml supervision keys become the manifest form with every default filled', () => {
  const plan = detectStack({ noopsYaml: parseNoopsYaml(YAML), hasLock: false });
  const [web, worker] = plan.processes;
  const base = { interval: 10, times: 3, of: 5, action: 'restart' };
  assert.deepEqual(web, {
    ...processDefaults('web', { command: 'node server.js' }),
    restart: 'on-failure',
    stopCommand: './graceful-stop.sh',
    user: 'www-data',
    flapping: { times: 3, within: 60, retryIn: 600, retryTimes: 5, retryWithin: 3600 },
    logs: { maxSize: 50 * 1024 * 1024, keep: 3 },
    conditions: [
      { kind: 'memory', above: 500 * 1024 * 1024, ...base },
      { kind: 'cpu', above: 90, ...base, interval: 5, times: 2, of: 2 },
      { kind: 'http', path: '/health', url: null, codeIs: [200], codeIsNot: null, timeout: 2, ...base },
      { kind: 'tcp', host: '127.0.0.1', port: null, timeout: 5, ...base, action: 'event' },
      { kind: 'tcp', host: 'db.local', port: 5432, timeout: 5, ...base },
      { kind: 'command', command: './check.sh', timeout: 5, ...base },
    ],
  });
  assert.equal(worker!.flapping, false);
  assert.deepEqual(plan.crons, [
    { name: 'report', schedule: '0 3 * * *', timezone: 'Asia/Shanghai', command: './report.sh', env: {}, timeout: 3600, user: null },
    { name: 'tick', schedule: '*/10 * * * * *', timezone: null, command: 'date', env: {}, timeout: 0, user: null },
  ]);
  // And the manifest holding them is valid.
  const manifest = validateManifest({ ...oldManifest, processes: plan.processes, crons: plan.crons });
  assert.equal(manifest.crons?.length, 2);
});

const oldManifest: ReleaseManifest = {
  schema: 1,
  job: 'cop.a_owt.b_pdl.c_service.d_job.e',
  version: 'abcdef123',
  commit: 'abcdef1234567890abcdef1234567890abcdef12',
  repo: 'r',
  builtAt: '2024-05-01T12:00:00.000Z',
  stack: 'procfile',
  env: {},
  processes: [{ name: 'web', command: 'x', port: 'auto', env: {}, stopSignal: 'SIGTERM', stopTimeout: 10, startGrace: 2 }],
};

test('a manifest of an older release (no supervision keys, no crons) stays valid as it is', () => {
  assert.deepEqual(validateManifest(JSON.parse(JSON.stringify(oldManifest))), oldManifest);
});

function failure(text: string): string {
  try {
    parseNoopsYaml(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

test('bad supervision keys are errors naming the line and the key', () => {
  assert.equal(
    failure('processes:\n  web:\n    command: x\n    restart: sometimes\n'),
    'noops.yaml:4: processes.web.restart: expected always, on-failure or never',
  );
  assert.equal(
    failure('processes:\n  web:\n    command: x\n    conditions:\n      - memory: lots\n'),
    'noops.yaml:5: processes.web.conditions[0].memory: expected a size: bytes, or a number with a unit, e.g. 500MB, 1.5GiB, 64k',
  );
  assert.equal(
    failure('processes:\n  web:\n    command: x\n    conditions:\n      - { memory: 1MB, cpu: 5 }\n'),
    'noops.yaml:5: processes.web.conditions[0]: expected a mapping with one of memory, cpu, http, tcp, command (e.g. "memory: 500MB")',
  );
  assert.equal(
    failure('processes:\n  web:\n    command: x\n    conditions:\n      - cpu: 5\n        every: 3\n'),
    'noops.yaml:6: processes.web.conditions[0].every: unknown key',
  );
  assert.equal(
    failure('processes:\n  web:\n    command: x\n    conditions:\n      - cpu: 5\n        times: [5, 3]\n'),
    'noops.yaml:6: processes.web.conditions[0].times: in [N, M], N cannot be more than M',
  );
  assert.equal(
    failure('crons:\n  r:\n    schedule: "61 * * * *"\n    command: x\n'),
    'noops.yaml:3: crons.r.schedule: schedule "61 * * * *": CronPattern: Invalid value for minute: 61',
  );
  assert.match(
    failure('crons:\n  r:\n    schedule: "* * * * *"\n    timezone: Mars/Base\n    command: x\n'),
    /^noops\.yaml:4: crons\.r\.timezone: .*time zone/i,
  );
});

test('a manifest: a check of the process port needs a port; crons share the names of processes', () => {
  const bad = {
    ...oldManifest,
    processes: [
      {
        ...processDefaults('worker', { command: 'w' }),
        conditions: [
          {
            kind: 'http',
            path: '/h',
            url: null,
            codeIs: null,
            codeIsNot: null,
            timeout: 1,
            interval: 1,
            times: 1,
            of: 1,
            action: 'restart',
          },
        ],
      },
    ],
    crons: [{ name: 'worker', schedule: '* * * * *', timezone: null, command: 'x', env: {}, timeout: 0, user: null }],
  };
  assert.throws(
    () => validateManifest(bad),
    (err: Error) => {
      assert.match(err.message, /processes\[0\]\.conditions\[0\]: a http check of the process's own port needs the process to have a port/);
      assert.match(err.message, /crons\[0\]\.name: "worker" is already the name of a process or cron/);
      return true;
    },
  );
});

test('sizes: bytes, or units of 1024', () => {
  assert.equal(parseSize(1000), 1000);
  assert.equal(parseSize('64k'), 65536);
  assert.equal(parseSize('1.5 MB'), 1572864);
  assert.equal(parseSize('2GiB'), 2 * 1024 ** 3);
  assert.equal(parseSize('5 parsecs'), null);
  assert.equal(parseSize(-1), null);
});
