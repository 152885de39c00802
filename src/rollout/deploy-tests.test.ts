import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create as tarCreate } from 'tar';
import { deployTestEnv, hostAddress, instanceList, instancesVar, mainProcess, runDeployTests } from './deploy-tests.js';
import type { ReleaseManifest } from '../release/index.js';
import type { ProcessReport } from '../api/index.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-deploy-tests-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const proc = (process: string, port: number | null, version = 'v2'): ProcessReport => ({
  tag: 't',
  process,
  version,
  state: 'up',
  pid: 1,
  port,
  restarts: 0,
  startedAt: null,
  error: null,
});
const manifest = (processes: { name: string; port: number | 'auto' | null }[]): ReleaseManifest => ({
  schema: 1,
  job: 'j',
  version: 'v2',
  commit: 'c',
  repo: 'r',
  builtAt: '',
  stack: 's',
  env: { A: 'from-release', NOOPS_TAG: 'overridden' },
  processes: processes.map((p) => ({ ...p, command: 'x', env: {}, stopSignal: 'SIGTERM', stopTimeout: 1, startGrace: 1 })),
});

test('instances: address:port of the process that runs the version, IPv6 in brackets, hosts without either left out', () => {
  assert.deepEqual(
    instanceList(
      [
        { address: '10.0.0.1', processes: [proc('web', 8001)] },
        { address: 'fd00::2', processes: [proc('web', 8002)] },
        { address: '10.0.0.3', processes: [proc('web', 8003, 'v1')] },
        { address: null, processes: [proc('web', 8004)] },
        { address: '10.0.0.5', processes: [proc('worker', null)] },
      ],
      'web',
      'v2',
    ),
    ['10.0.0.1:8001', '[fd00::2]:8002'],
  );
  assert.equal(hostAddress({}, '::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(hostAddress({ address: '10.1.1.1' }, '127.0.0.1'), '10.1.1.1');
  assert.equal(hostAddress({}, null), null);
});

test("instances: every replica of the process on a host, in replica order, and not another process's replicas", () => {
  assert.deepEqual(
    instanceList(
      [
        // a report lists a host's replicas in any order: web, web@3, web@2
        { address: '10.0.0.1', processes: [proc('web', 8001), proc('web@3', 8003), proc('webhook', 9000), proc('web@2', 8002)] },
        { address: '10.0.0.2', processes: [proc('web@2', 8102, 'v1'), proc('web', 8101)] },
        { address: '10.0.0.3', processes: [proc('admin@2', 7002), proc('web@2', 8202)] },
      ],
      'web',
      'v2',
    ),
    ['10.0.0.1:8001', '10.0.0.1:8002', '10.0.0.1:8003', '10.0.0.2:8101', '10.0.0.3:8202'],
  );
});

test('the environment: web (or the first process with a port) in NOOPS_INSTANCES, every ported process by name, noops over the release', () => {
  assert.equal(
    mainProcess(
      manifest([
        { name: 'worker', port: null },
        { name: 'admin', port: 9000 },
        { name: 'web', port: 'auto' },
      ]),
    ),
    'web',
  );
  assert.equal(
    mainProcess(
      manifest([
        { name: 'worker', port: null },
        { name: 'admin-ui', port: 9000 },
      ]),
    ),
    'admin-ui',
  );
  assert.equal(mainProcess(manifest([{ name: 'worker', port: null }])), null);
  assert.equal(instancesVar('admin-ui'), 'NOOPS_INSTANCES_ADMIN_UI');
  const env = deployTestEnv({
    manifest: manifest([
      { name: 'web', port: 'auto' },
      { name: 'admin-ui', port: 9000 },
    ]),
    tag: 'T',
    version: 'v2',
    kind: 'deploy',
    deployment: 7,
    batch: 0,
    instances: { web: ['a:1', 'b:2'], 'admin-ui': ['a:9000'] },
  });
  assert.deepEqual(
    [
      env.A,
      env.NOOPS_TAG,
      env.NOOPS_VERSION,
      env.NOOPS_DEPLOY_KIND,
      env.NOOPS_DEPLOYMENT,
      env.NOOPS_BATCH,
      env.NOOPS_INSTANCES,
      env.NOOPS_INSTANCES_WEB,
      env.NOOPS_INSTANCES_ADMIN_UI,
    ],
    ['from-release', 'T', 'v2', 'deploy', '7', '1', 'a:1,b:2', 'a:1,b:2', 'a:9000'],
  );
  assert.equal(env.NOOPS_TOKEN, undefined);
});

test('runDeployTests: in order, stopping at the first failure; killed at the time limit; a bad package is a failure', async () => {
  const src = mkdtempSync(join(dir, 'src-'));
  writeFileSync(join(src, 'manifest.json'), '{}');
  writeFileSync(join(src, 'ok.sh'), 'echo "in $(basename $PWD | cut -c1-12)"\n');
  const pkg = join(dir, 'p.tar.gz');
  await tarCreate({ gzip: true, file: pkg, cwd: src, portable: true }, ['manifest.json', 'ok.sh']);
  const base = { packagePath: pkg, workDir: dir, env: { PATH: process.env.PATH! }, timeoutS: 10 };
  assert.deepEqual(await runDeployTests({ ...base, commands: ['sh ok.sh', 'exit 4', 'echo never'] }), [
    { command: 'sh ok.sh', code: 0, output: 'in release\n' },
    { command: 'exit 4', code: 4, output: '' },
  ]);
  const slow = await runDeployTests({ ...base, commands: ['sleep 5'], timeoutS: 0.3 });
  assert.deepEqual([slow[0]!.code, slow[0]!.output.trim()], [null, '(killed: the deploy tests ran past 0.3s)']);
  const bad = await runDeployTests({ ...base, packagePath: join(dir, 'missing.tar.gz'), commands: ['true'] });
  assert.equal(bad[0]!.command, '(unpack the release)');
  assert.equal(bad[0]!.code, null);
});
