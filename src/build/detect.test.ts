import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectStack, type BuildPlan } from './detect.js';
import { parseNoopsYaml } from '../release/noops-yaml.js';
import { processDefaults } from '../release/index.js';

const web = (command: string) => processDefaults('web', { command });

test('a Procfile alone: no build, its processes', () => {
  const plan: BuildPlan = {
    stack: 'procfile',
    build: [],
    test: [],
    env: {},
    secretEnv: {},
    processes: [web('./server'), processDefaults('worker', { command: './work' })],
    crons: [],
    exclude: [],
    runtimes: {},
    buildRuntimes: {},
    staticServer: false,
    deployTests: [],
  };
  assert.deepEqual(detectStack({ procfile: 'web: ./server\nworker: ./work\n', hasLock: false }), plan);
});

test('package.json: npm ci with a lockfile, npm install without, npm run build when there is a build script, web: npm start', () => {
  const packageJson = {
    name: 'x',
    scripts: { build: 'tsc', start: 'node dist/server.js', test: 'echo "Error: no test specified" && exit 1' },
  };
  assert.deepEqual(detectStack({ packageJson, hasLock: true }), {
    stack: 'node',
    build: ['npm ci --no-audit --no-fund', 'npm run build'],
    test: [],
    env: {},
    secretEnv: {},
    processes: [web('npm start')],
    crons: [],
    exclude: [],
    runtimes: {},
    buildRuntimes: {},
    staticServer: false,
    deployTests: [],
  });
  assert.deepEqual(detectStack({ packageJson: { scripts: { start: 'node s.js' } }, hasLock: false }).build, [
    'npm install --no-audit --no-fund',
  ]);
});

test('package.json with a Procfile: node builds, the Procfile names the processes', () => {
  assert.deepEqual(detectStack({ procfile: 'worker: node w.js', packageJson: { scripts: { start: 'node s.js' } }, hasLock: false }), {
    stack: 'node+procfile',
    build: ['npm install --no-audit --no-fund'],
    test: [],
    env: {},
    secretEnv: {},
    processes: [processDefaults('worker', { command: 'node w.js' })],
    crons: [],
    exclude: [],
    runtimes: {},
    buildRuntimes: {},
    staticServer: false,
    deployTests: [],
  });
});

test('noops.yaml decides what it says, detection fills the rest', () => {
  const noopsYaml = parseNoopsYaml('test: npm test\nenv: { NODE_ENV: production }\nexclude: [docs]\n');
  assert.deepEqual(detectStack({ noopsYaml, procfile: 'web: node s.js', packageJson: {}, hasLock: true }), {
    stack: 'manifest+node+procfile',
    build: ['npm ci --no-audit --no-fund'],
    test: ['npm test'],
    env: { NODE_ENV: 'production' },
    secretEnv: {},
    processes: [web('node s.js')],
    crons: [],
    exclude: ['docs'],
    runtimes: {},
    buildRuntimes: {},
    staticServer: false,
    deployTests: [],
  });
});

test('noops.yaml with build and processes overrides the Procfile and package.json', () => {
  const noopsYaml = parseNoopsYaml(
    'build: [make, make check]\nprocesses:\n  web: { command: ./srv, port: 8080, stop_signal: SIGQUIT, stop_timeout: 30, start_grace: 5, env: { A: b } }\n  clock: ./clock\n',
  );
  assert.deepEqual(detectStack({ noopsYaml, procfile: 'web: other', packageJson: { scripts: { start: 'x' } }, hasLock: false }), {
    stack: 'manifest',
    build: ['make', 'make check'],
    test: [],
    env: {},
    secretEnv: {},
    processes: [
      {
        ...processDefaults('web', { command: './srv' }),
        port: 8080,
        env: { A: 'b' },
        stopSignal: 'SIGQUIT',
        stopTimeout: 30,
        startGrace: 5,
      },
      processDefaults('clock', { command: './clock' }),
    ],
    crons: [],
    exclude: [],
    runtimes: {},
    buildRuntimes: {},
    staticServer: false,
    deployTests: [],
  });
});

test('an explicit empty build list turns off the detected build', () => {
  const noopsYaml = parseNoopsYaml('build: []\n');
  assert.deepEqual(detectStack({ noopsYaml, packageJson: { scripts: { start: 'node s.js' } }, hasLock: true }).build, []);
});

test('no process anywhere is NOOPS_E_NO_PROCESSES, with what was found', () => {
  assert.throws(() => detectStack({ hasLock: false }), {
    code: 'NOOPS_E_NO_PROCESSES',
    message: 'no process to run: no Procfile, noops.yaml, package.json, pom.xml, go.mod or index.html',
  });
  assert.throws(() => detectStack({ packageJson: { scripts: { build: 'tsc' } }, noopsYaml: {}, hasLock: false }), {
    message: 'no process to run: no Procfile; found noops.yaml (without processes) and package.json (without a start script)',
  });
  assert.throws(() => detectStack({ procfile: '# nothing\n', hasLock: false }), { message: 'the Procfile lists no process' });
  assert.throws(() => detectStack({ noopsYaml: { processes: {} }, procfile: 'web: x', hasLock: false }), {
    message: 'noops.yaml: processes: lists no process',
  });
});

test('a package.json that is not an object, or has odd scripts', () => {
  assert.throws(() => detectStack({ packageJson: [], hasLock: false }), {
    code: 'NOOPS_E_MANIFEST',
    message: 'package.json: expected a JSON object',
  });
  assert.throws(() => detectStack({ packageJson: { scripts: 'x' }, hasLock: false }), {
    message: 'package.json: scripts: expected an object',
  });
  assert.throws(() => detectStack({ packageJson: { scripts: { start: '  ' } }, hasLock: false }), { code: 'NOOPS_E_NO_PROCESSES' });
});

test('build.sh at the root builds (run as it is when executable), before package.json', () => {
  const plan = detectStack({
    buildSh: { executable: true },
    packageJson: { scripts: { start: 'node s.js' } },
    procfile: 'web: ./serve',
    hasLock: true,
  });
  assert.deepEqual([plan.stack, plan.build, plan.processes], ['shell+procfile', ['./build.sh'], [web('./serve')]]);
  assert.deepEqual(detectStack({ buildSh: { executable: false }, procfile: 'web: x', hasLock: false }).build, ['sh ./build.sh']);
  assert.throws(() => detectStack({ buildSh: { executable: true }, hasLock: false }), {
    code: 'NOOPS_E_NO_PROCESSES',
    message: 'no process to run: no Procfile; found build.sh (which names no process)',
  });
});

test('Maven: package, then test when src/test exists, run the jar, with the newest jdk and maven unless named', () => {
  assert.deepEqual(detectStack({ maven: { tests: true }, hasLock: false }), {
    stack: 'maven',
    build: ['mvn -B -DskipTests package'],
    test: ['mvn -B test'],
    env: {},
    secretEnv: {},
    processes: [web('java -jar target/*.jar')],
    crons: [],
    exclude: [],
    runtimes: { jdk: '*' },
    buildRuntimes: { maven: '*' },
    staticServer: false,
    deployTests: [],
  });
  const noopsYaml = parseNoopsYaml('runtimes: { jdk: "17" }\nbuild_runtimes: { maven: "3.8" }\n');
  const plan = detectStack({ noopsYaml, maven: { tests: false }, procfile: 'web: java -cp target/classes demo.Main', hasLock: false });
  assert.deepEqual(
    [plan.stack, plan.test, plan.runtimes, plan.buildRuntimes],
    ['manifest+maven+procfile', [], { jdk: '17' }, { maven: '3.8' }],
  );
});

test('Go: go build, run the binary, the go toolchain at build time only', () => {
  const plan = detectStack({ goMod: true, hasLock: false });
  assert.deepEqual(
    [plan.stack, plan.build, plan.processes, plan.runtimes, plan.buildRuntimes],
    ['go', ['go build -trimpath -o app .'], [web('./app')], {}, { go: '*' }],
  );
});

test('a static site: index.html at the root and nothing else to run is served by the static file server', () => {
  const plan = detectStack({ indexHtml: true, hasLock: false });
  assert.deepEqual(
    [plan.stack, plan.build, plan.processes, plan.staticServer],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, written as the Procfile has it
    ['static', [], [web('"${NOOPS_NODE:-node}" .noops/static-server.mjs')], true],
  );
  // anything that names a process wins over the static server
  assert.equal(detectStack({ indexHtml: true, procfile: 'web: x', hasLock: false }).staticServer, false);
  // a package.json with a build and no start script builds the site first
  const built = detectStack({ indexHtml: true, packageJson: { scripts: { build: 'vite build' } }, hasLock: true });
  assert.deepEqual([built.stack, built.build], ['node+static', ['npm ci --no-audit --no-fund', 'npm run build']]);
});

test('noops.yaml runtimes go to the plan as written; the build resolves them', () => {
  const noopsYaml = parseNoopsYaml('runtimes: { node: "18" }\n');
  const plan = detectStack({ noopsYaml, procfile: 'web: node s.js', hasLock: false });
  assert.deepEqual([plan.runtimes, plan.buildRuntimes], [{ node: '18' }, {}]);
});

test('noops.yaml health checks and deploy tests reach the plan in the manifest form', () => {
  const noopsYaml = parseNoopsYaml(
    [
      'processes:',
      '  web: { command: ./srv, healthcheck: { http: /healthz, interval: 0.5 } }',
      '  worker: { command: ./w, healthcheck: { command: ./check.sh, timeout: 5 } }',
      '  admin: { command: ./a, port: 9000, healthcheck: none }',
      'deploy_tests: [./smoke.sh, ./e2e.sh]',
    ].join('\n'),
  );
  const plan = detectStack({ noopsYaml, hasLock: false });
  assert.deepEqual(
    plan.processes.map((p) => p.healthcheck),
    [
      { type: 'http', path: '/healthz', interval: 0.5, timeout: 2 },
      { type: 'command', command: './check.sh', interval: 1, timeout: 5 },
      { type: 'none' },
    ],
  );
  assert.deepEqual(plan.deployTests, ['./smoke.sh', './e2e.sh']);
});

test('noops.yaml env values that name secrets go to secretEnv (names only), for the job and a process', () => {
  const noopsYaml = parseNoopsYaml(
    [
      'env:',
      '  MODE: live',
      '  DB_PASSWORD: { secret: shop-db }',
      'processes:',
      '  web:',
      '    command: ./srv',
      '    env: { API_KEY: { secret: api.key }, LEVEL: "3" }',
      '',
    ].join('\n'),
  );
  const plan = detectStack({ noopsYaml, hasLock: false });
  assert.deepEqual([plan.env, plan.secretEnv], [{ MODE: 'live' }, { DB_PASSWORD: 'shop-db' }]);
  assert.deepEqual([plan.processes[0]!.env, plan.processes[0]!.secretEnv], [{ LEVEL: '3' }, { API_KEY: 'api.key' }]);
  // a process without secrets has no secretEnv key: its manifest is as before
  assert.equal('secretEnv' in processDefaults('web', { command: 'x', secretEnv: {} }), false);
});
