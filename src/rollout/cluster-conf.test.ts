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

test('count: instead of host: makes a scheduled cluster, with its keys', () => {
  const text = `cluster:
  name: prod
  jobs: [${JOB}]
${JOB}:
  count: 6
  cpu: 0.5
  memory: 256M
  constraint: [rack!=r3, zone=a]
  distinct_hosts: true
  spread: rack
`;
  assert.deepEqual(parseClusterConf(text)[0]!, {
    tag: JOB,
    clusterName: 'prod',
    hosts: [],
    schedule: {
      count: 6,
      cpu: 0.5,
      memory: 256 * 1024 ** 2,
      constraints: [
        { label: 'rack', op: '!=', value: 'r3' },
        { label: 'zone', op: '=', value: 'a' },
      ],
      distinctHosts: true,
      spread: 'rack',
    },
    version: undefined,
    pkgUrl: undefined,
    env: undefined,
    policy: {},
  });
  const zero = `cluster:\n  name: prod\n  jobs: [${JOB}]\n${JOB}:\n  count: 0\n  binpack: true\n`;
  assert.deepEqual(parseClusterConf(zero)[0]!.schedule, {
    count: 0,
    cpu: 0,
    memory: 0,
    constraints: [],
    distinctHosts: false,
    spread: null,
  });
});

test('host: xor count:, and bad scheduling keys, name their line', () => {
  const head = `cluster:\n  name: prod\n  jobs: [${JOB}]\n${JOB}:\n`;
  assert.throws(() => parseClusterConf(`${head}  host: [a]\n  count: 2\n`), {
    code: 'NOOPS_E_CLUSTER_CONF',
    message: `cluster.conf:6: ${JOB}.count: give host: (the hosts) or count: (the scheduler places it), not both`,
  });
  assert.throws(() => parseClusterConf(`${head}  version: 15b2980f8\n`), {
    message: `cluster.conf:4: ${JOB}: give host: (a list of hosts) or count: (how many instances the scheduler places)`,
  });
  assert.throws(() => parseClusterConf(`${head}  host: [a]\n  cpu: 1\n`), {
    message: `cluster.conf:6: ${JOB}.cpu: cpu places a scheduled cluster: give count: instead of host:`,
  });
  assert.throws(() => parseClusterConf(`${head}  count: 2\n  cpu: 0.5\n  memory: lots\n`), {
    message: /^cluster\.conf:7: .*\.memory: "lots" is not a size/,
  });
  assert.throws(() => parseClusterConf(`${head}  count: 2\n  constraint: [rack]\n`), {
    message: /^cluster\.conf:6: .*\.constraint: "rack" is not a constraint/,
  });
  assert.throws(() => parseClusterConf(`${head}  count: 2\n  spread: rack\n  binpack: true\n`), {
    message: /^cluster\.conf:6: .*\.spread: spread over rack or bin-pack: give one, not both/,
  });
  assert.throws(() => parseClusterConf(`${head}  count: -1\n`), { message: /^cluster\.conf:5: .*\.count: "-1" is not a whole number/ });
});
