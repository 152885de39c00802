import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNoopsYaml } from './noops-yaml.js';
import { NoopsError } from '../errors/index.js';

/** Asserts that parsing fails with NOOPS_E_MANIFEST and returns the message. */
function failure(text: string): string {
  try {
    parseNoopsYaml(text);
  } catch (err) {
    assert.ok(err instanceof NoopsError);
    assert.equal(err.code, 'NOOPS_E_MANIFEST');
    return err.message;
  }
  assert.fail('expected a NOOPS_E_MANIFEST error');
}

test('a full noops.yaml parses into lists and full process entries', () => {
  const text = [
    'build: make',
    'test:',
    '  - npm test',
    '  - npm run lint',
    'env:',
    '  NODE_ENV: production',
    'processes:',
    '  web: node server.js',
    '  worker:',
    '    command: node jobs.js',
    '    port: null',
    '    env: { QUEUE: default }',
    '    stop_signal: SIGQUIT',
    '    stop_timeout: 30',
    '    start_grace: 0.5',
    '  admin: { command: node admin.js, port: 8081 }',
    'exclude: [docs, "**/*.md"]',
  ].join('\n');
  assert.deepEqual(parseNoopsYaml(text), {
    build: ['make'],
    test: ['npm test', 'npm run lint'],
    env: { NODE_ENV: 'production' },
    processes: {
      web: { command: 'node server.js' },
      worker: {
        command: 'node jobs.js',
        port: null,
        env: { QUEUE: 'default' },
        stop_signal: 'SIGQUIT',
        stop_timeout: 30,
        start_grace: 0.5,
      },
      admin: { command: 'node admin.js', port: 8081 },
    },
    exclude: ['docs', '**/*.md'],
  });
});

test('an empty file is an empty manifest', () => {
  assert.deepEqual(parseNoopsYaml(''), {});
  assert.deepEqual(parseNoopsYaml('# nothing yet\n'), {});
});

test('a bad port names the file, the line and the key path', () => {
  const text = 'env:\n  A: b\nprocesses:\n  worker: sh w.sh\n  web:\n    command: node s.js\n    port: eighty\n';
  assert.equal(failure(text), 'noops.yaml:7: processes.web.port: expected a number, "auto" or null');
});

test('a port out of range says so', () => {
  assert.equal(
    failure('processes:\n  web: { command: x, port: 70000 }\n'),
    'noops.yaml:2: processes.web.port: expected a port number from 1 to 65535',
  );
});

test('unknown keys are errors at their own line, at any depth', () => {
  const text = 'build: make\nbiuld: make\nprocesses:\n  web:\n    command: x\n    colour: red\n';
  assert.equal(failure(text), 'noops.yaml:2: biuld: unknown key\nnoops.yaml:6: processes.web.colour: unknown key');
});

test('env values must be strings, not numbers YAML would change', () => {
  assert.equal(
    failure('env:\n  VERSION: 1.10\n'),
    'noops.yaml:2: env.VERSION: expected a string (quote numbers and booleans, e.g. "8080") or { secret: NAME }',
  );
});

test('bad names of processes and variables point at the key', () => {
  assert.match(failure('processes:\n  Web: x\n'), /^noops\.yaml:2: processes\.Web: a process name is lower-case/);
  assert.match(failure('env:\n  A: b\n  1X: c\n'), /^noops\.yaml:3: env\.1X: an environment variable name/);
});

test('a process without a command, and a list item of the wrong type', () => {
  assert.equal(failure('processes:\n  web:\n    port: auto\n'), 'noops.yaml:3: processes.web.command: expected a command string');
  assert.equal(failure('build:\n  - make\n  - 42\n'), 'noops.yaml:3: build[1]: expected a command string');
  assert.equal(failure('test: 3\n'), 'noops.yaml:1: test: expected a command or a list of commands');
});

test('exclude refuses absolute paths and ..', () => {
  assert.match(failure('exclude:\n  - ok\n  - ../secrets\n'), /^noops\.yaml:3: exclude\[1\]: a path in exclude is relative/);
  assert.match(failure('exclude: /etc\n'), /^noops\.yaml:1: exclude\[0\]: /);
});

test('a YAML syntax error names the line', () => {
  assert.match(failure('build: make\nprocesses:\n  web: x\n  web: y\n'), /^noops\.yaml:4: Map keys must be unique$/);
  assert.match(failure('a: [1,\n'), /^noops\.yaml:\d+: /);
});

test('a top level that is not a mapping', () => {
  assert.equal(
    failure('- a\n- b\n'),
    'noops.yaml:1: (top level): expected a mapping of keys (build, test, env, processes, crons, runtimes, build_runtimes, exclude, deploy_tests, depends_on, drain_timeout, driver, image, resources, volumes)',
  );
});

test('the file name given is used in messages', () => {
  assert.throws(() => parseNoopsYaml('x: 1\n', 'repo/noops.yaml'), /^NoopsError: repo\/noops\.yaml:1: x: unknown key$/);
});

test('runtimes: versions are strings, whole numbers are taken as text, other numbers are refused', () => {
  assert.deepEqual(parseNoopsYaml('runtimes:\n  node: "18.20.4"\n  jdk: 17\nbuild_runtimes: { maven: "3.9" }\n'), {
    runtimes: { node: '18.20.4', jdk: '17' },
    build_runtimes: { maven: '3.9' },
  });
  assert.match(failure('runtimes:\n  node: 18.10\n'), /^noops\.yaml:2: runtimes\.node: expected a version string: quote it/);
  assert.match(failure('runtimes:\n  Node: "18"\n'), /^noops\.yaml:2: runtimes\.Node: a runtime name is lower-case/);
  assert.match(failure('runtimes:\n  node: "../18"\n'), /^noops\.yaml:2: runtimes\.node: a runtime version is letters/);
  assert.equal(
    failure('runtimes: node\n'),
    'noops.yaml:1: runtimes: expected a mapping of runtime names to versions, e.g. { node: "18.20.4" }',
  );
});

test('a health check names exactly one kind, and deploy_tests are commands', () => {
  assert.deepEqual(parseNoopsYaml('processes:\n  web:\n    command: x\n    healthcheck: { tcp: true }\ndeploy_tests: ./smoke.sh\n'), {
    processes: { web: { command: 'x', healthcheck: { tcp: true } } },
    deploy_tests: ['./smoke.sh'],
  });
  assert.equal(
    failure('processes:\n  web:\n    command: x\n    healthcheck:\n      http: /h\n      tcp: true\n'),
    'noops.yaml:5: processes.web.healthcheck: name exactly one check: http: /path, tcp: true or command: CMD',
  );
  assert.equal(
    failure('processes:\n  web:\n    command: x\n    healthcheck: { http: health }\n'),
    'noops.yaml:4: processes.web.healthcheck.http: an http check is a path starting with "/", e.g. /healthz',
  );
  assert.equal(
    failure('processes:\n  web:\n    command: x\n    healthcheck: { http: /h, every: 2 }\n'),
    'noops.yaml:4: processes.web.healthcheck.every: unknown key',
  );
  assert.equal(failure('deploy_tests: [""]\n'), 'noops.yaml:1: deploy_tests[0]: a command cannot be empty');
});

test('an env value may name a secret; a bad secret name or an extra key says so at its line', () => {
  assert.deepEqual(parseNoopsYaml('env:\n  DB: { secret: shop-db }\n').env, { DB: { secret: 'shop-db' } });
  assert.match(failure('env:\n  DB: { secret: "-x" }\n'), /^noops\.yaml:2: env\.DB(\.secret)?: .*secret's name/);
  assert.match(failure('env:\n  DB: { secret: db, value: x }\n'), /^noops\.yaml:2: env\.DB/);
  assert.match(failure('processes:\n  web:\n    command: x\n    env: { K: { secrt: k } }\n'), /^noops\.yaml:4: processes\.web\.env\.K/);
});

test('depends_on: selectors or tags, kept as canonical selectors; a bad one names its line', () => {
  const parsed = parseNoopsYaml('depends_on:\n  - service=pay, cop=acme\n  - cop.acme_owt.web_service.db\n');
  assert.deepEqual(parsed.depends_on, ['cop=acme,service=pay', 'cop=acme,owt=web,service=db']);
  assert.deepEqual(parseNoopsYaml('depends_on: pdl=shop\n').depends_on, ['pdl=shop']);
  assert.match(failure('processes:\n  web: x\ndepends_on:\n  - cop=ACME\n'), /^noops\.yaml:4: depends_on\[0\]: .*upper-case/);
  assert.match(failure('depends_on:\n  - ""\n'), /depends_on\[0\]: /);
  assert.match(failure('depends_on: { a: 1 }\n'), /depends_on: expected a list of selectors/);
});

test('drain_timeout: a duration (20s, 500ms, 2m, or seconds), kept in seconds; a bad one names its line', () => {
  assert.equal(parseNoopsYaml('drain_timeout: 20s\n').drain_timeout, 20);
  assert.equal(parseNoopsYaml('drain_timeout: 500ms\n').drain_timeout, 0.5);
  assert.equal(parseNoopsYaml('drain_timeout: 2m\n').drain_timeout, 120);
  assert.equal(parseNoopsYaml('drain_timeout: 45\n').drain_timeout, 45);
  assert.match(failure('processes:\n  web: x\ndrain_timeout: soon\n'), /^noops\.yaml:3: drain_timeout: "soon" is not a duration/);
  assert.match(failure('drain_timeout: 2d\n'), /drain_timeout: /);
});
