import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClusterConf } from './cluster-conf.js';

const JOB = 'cop.xiaomi_owt.miliao_pdl.com_service.deploy-test_job.deploy-test';

test('the seed-style cluster.conf gives one entry per job', () => {
  const text = `cluster:
  name: production-sd
  version: 15b2980f8
  env: production
  jobs:
    - ${JOB}
${JOB}:
  host: [web-1, web-2]
`;
  assert.deepEqual(parseClusterConf(text), [
    {
      tag: JOB,
      clusterName: 'production-sd',
      hosts: ['web-1', 'web-2'],
      version: '15b2980f8',
      pkgUrl: undefined,
      env: 'production',
      policy: {},
    },
  ]);
});

test('errors name the file, the line and the key', () => {
  const unknownKey = `cluster:\n  name: prod\n  jobs: [${JOB}]\n${JOB}:\n  host: [a]\n  hosts: [b]\n`;
  assert.throws(() => parseClusterConf(unknownKey), {
    code: 'NOOPS_E_CLUSTER_CONF',
    message: `cluster.conf:6: ${JOB}.hosts: unknown key "hosts"`,
  });
  const badName = `cluster:\n  name: Prod\n  jobs: [${JOB}]\n${JOB}:\n  host: [a]\n`;
  assert.throws(() => parseClusterConf(badName), { message: /^cluster\.conf:2: cluster\.name: a cluster name is lower-case/ });
  const missing = `${JOB}:\n  host: [a]\n`;
  assert.throws(() => parseClusterConf(missing), { message: 'cluster.conf: cluster: the "cluster" section is missing' });
  const unlisted = `cluster:\n  name: prod\n  jobs: [${JOB}]\n${JOB}:\n  host: [a]\nother:\n  host: [b]\n`;
  assert.throws(() => parseClusterConf(unlisted), { message: /^cluster\.conf:6: other: section "other" is not listed in cluster\.jobs/ });
  const noSection = `cluster:\n  name: prod\n  jobs: [${JOB}]\n`;
  assert.throws(() => parseClusterConf(noSection), { message: /^cluster\.conf:3: cluster\.jobs: job ".*" has no section of its own/ });
  assert.throws(() => parseClusterConf('cluster: [\n'), { code: 'NOOPS_E_CLUSTER_CONF' });
});

test('the policy keys, in the cluster section and over it in a job section; bad values name their line', () => {
  const text = `cluster:
  name: prod
  jobs: [${JOB}]
  policy:
    batch: 1, 10%, 50%
    pause: 30s
${JOB}:
  host: [a, b]
  policy: { on_failure: stop, pause: 0 }
`;
  assert.deepEqual(parseClusterConf(text)[0]!.policy, { batch: [1, '10%', '50%'], pause: 0, on_failure: 'stop' });
  const bad = `cluster:\n  name: prod\n  jobs: [${JOB}]\n  policy:\n    pause: soon\n${JOB}:\n  host: [a]\n`;
  assert.throws(() => parseClusterConf(bad), {
    code: 'NOOPS_E_CLUSTER_CONF',
    message: 'cluster.conf:5: cluster.policy.pause: "soon" is not a duration of at most a day (e.g. 30, 30s, 5m, 1h)',
  });
  const unknown = `cluster:\n  name: prod\n  jobs: [${JOB}]\n${JOB}:\n  host: [a]\n  policy:\n    batches: 2\n`;
  assert.throws(() => parseClusterConf(unknown), { message: `cluster.conf:7: ${JOB}.policy.batches: unknown key "batches"` });
});

test("pkg_url names a package built elsewhere, in the cluster section or a job's; http(s) only, and not beside a version", () => {
  const url = 'https://ci.example.com/api-15b2980f8.tar.gz';
  const text = `cluster:\n  name: prod\n  pkg_url: ${url}\n  jobs: [${JOB}]\n${JOB}:\n  host: [a]\n`;
  assert.deepEqual(parseClusterConf(text)[0]!, {
    tag: JOB,
    clusterName: 'prod',
    hosts: ['a'],
    version: undefined,
    pkgUrl: url,
    env: undefined,
    policy: {},
  });
  const own = `cluster:\n  name: prod\n  version: 15b2980f8\n  jobs: [${JOB}]\n${JOB}:\n  host: [a]\n  pkg_url: ${url}\n`;
  assert.deepEqual(
    [parseClusterConf(own)[0]!.version, parseClusterConf(own)[0]!.pkgUrl],
    [undefined, url],
    "the job's pkg_url wins over the cluster's version",
  );
  const both = `cluster:\n  name: prod\n  jobs: [${JOB}]\n${JOB}:\n  host: [a]\n  version: 15b2980f8\n  pkg_url: ${url}\n`;
  assert.throws(() => parseClusterConf(both), {
    message: `cluster.conf:7: ${JOB}.pkg_url: give a version or a pkg_url, not both: the package names its own version`,
  });
  const file = `cluster:\n  name: prod\n  jobs: [${JOB}]\n${JOB}:\n  host: [a]\n  pkg_url: file:///etc/passwd\n`;
  assert.throws(() => parseClusterConf(file), {
    message: `cluster.conf:6: ${JOB}.pkg_url: a pkg_url is an http:// or https:// URL of a release package`,
  });
});
