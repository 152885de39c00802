import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredInstance } from '../api/index.js';
import { processDefaults, type CronSpecManifest, type ReleaseManifest } from '../release/index.js';
import { defaultExports, type RuntimeRef } from '../runtimes/index.js';
import { runtimesOf, watchSpec } from './reconcile.js';
import { cronSpec } from './specs.js';
import type { InstanceState } from './state.js';

const ref = (name: string, version: string): RuntimeRef => ({
  name,
  version,
  sha256: 'a'.repeat(64),
  url: `/api/v1/artifacts/${'a'.repeat(64)}`,
  exports: defaultExports(name),
  platform: 'linux/x64',
});

function instance(tag: string, runtimes: Record<string, string> | undefined, refs: RuntimeRef[]): InstanceState {
  const manifest: ReleaseManifest = {
    schema: 1,
    job: 'cop.a_owt.b_pdl.c_service.d_job.e',
    version: '15b2980f8',
    commit: '15b2980f8a1c0e4d5b6a7f8e9d0c1b2a3f4e5d6c',
    repo: '/r',
    builtAt: '2024-05-01T12:00:00.000Z',
    stack: 'procfile',
    env: { A: 'b' },
    ...(runtimes && { runtimes }),
    processes: [processDefaults('web', { command: 'node s.js' })],
  };
  const desired: DesiredInstance = {
    tag,
    version: '15b2980f8',
    sha256: 'b'.repeat(64),
    url: '/x',
    manifest,
    deploymentId: 1,
    kind: 'deploy',
    runtimes: refs,
  };
  return { desired, ports: {}, processes: {} };
}

test('a process gets only the runtimes its own manifest names, first on PATH', () => {
  const all = [ref('node', '18.20.4'), ref('node', '22.23.3'), ref('jdk', '17')];
  const a = watchSpec('/agent', instance('t_a', { node: '18.20.4' }, all).desired, processDefaults('web', { command: 'x' }), 8080, {
    defaultUser: null,
  });
  assert.ok(a.env.PATH!.startsWith('/agent/runtimes/node/18.20.4/bin:'), a.env.PATH);
  assert.ok(!a.env.PATH!.includes('22.23.3') && !a.env.PATH!.includes('/jdk/'));
  assert.equal(a.env.NODE_HOME, '/agent/runtimes/node/18.20.4');
  assert.equal(a.env.JAVA_HOME, undefined, "the jdk runtime is not this release's");
  assert.equal(a.env.NOOPS_NODE, process.execPath);
  assert.equal(a.env.A, 'b');
  const b = watchSpec('/agent', instance('t_b', undefined, all).desired, processDefaults('web', { command: 'x' }), 8081, {
    defaultUser: null,
  });
  assert.equal(b.env.PATH, process.env.PATH, "a release without runtimes keeps the agent's PATH");
  assert.equal(b.env.NODE_HOME, undefined);
});

test('a runtime the server sent no package for is named', () => {
  assert.throws(() => runtimesOf(instance('t', { node: '99.0.0' }, [ref('node', '18.20.4')]).desired), {
    message: 'runtime node 99.0.0 is not known to the server (it sent no package for it)',
  });
  assert.deepEqual(runtimesOf(instance('t', undefined, []).desired), []);
});

test("a cron gets its release's runtimes as its processes do: bin first on PATH, the exports; none: the agent's PATH", () => {
  const cron: CronSpecManifest = {
    name: 'nightly',
    schedule: '0 3 * * *',
    timezone: null,
    command: 'node report.js',
    env: { C: 'd' },
    timeout: 60,
    user: null,
  };
  const all = [
    ref('node', '18.20.4'),
    ref('node', '22.23.3'),
    { ...ref('tool', '1'), exports: { path: ['bin', 'sbin'], env: { TOOL_HOME: '{dir}', TOOL_OPTS: '-q' } } },
  ];
  const withRuntimes = instance('t_a', { node: '22.23.3', tool: '1' }, all).desired;
  const c = cronSpec('/agent', { ...withRuntimes, manifest: { ...withRuntimes.manifest, crons: [cron] } }, cron, { defaultUser: null });
  assert.equal(c.env.PATH, `/agent/runtimes/node/22.23.3/bin:/agent/runtimes/tool/1/bin:/agent/runtimes/tool/1/sbin:${process.env.PATH}`);
  assert.equal(c.env.NODE_HOME, '/agent/runtimes/node/22.23.3');
  assert.equal(c.env.TOOL_HOME, '/agent/runtimes/tool/1');
  assert.equal(c.env.TOOL_OPTS, '-q');
  assert.deepEqual([c.env.A, c.env.C, c.env.NOOPS_PROCESS], ['b', 'd', 'nightly'], "the job's and the cron's own variables too");
  const plain = instance('t_b', undefined, all).desired;
  const p = cronSpec('/agent', { ...plain, manifest: { ...plain.manifest, crons: [cron] } }, cron, { defaultUser: null });
  assert.equal(p.env.PATH, process.env.PATH, "a release without runtimes keeps the agent's PATH");
  assert.equal(p.env.NODE_HOME, undefined);
  assert.equal(p.env.TOOL_HOME, undefined);
});
