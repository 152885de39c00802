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
  assert.deepEqual(parseClusterConf(text), [{
    tag: JOB, clusterName: 'production-sd', hosts: ['web-1', 'web-2'], version: '15b2980f8', env: 'production', policy: {},
  }]);
});

test('errors name the file, the line and the key', () => {
  const unknownKey = `cluster:\n  name: prod\n  jobs: [${JOB}]\n${JOB}:\n  host: [a]\n  hosts: [b]\n`;
  assert.throws(() => parseClusterConf(unknownKey), { code: 'NOOPS_E_CLUSTER_CONF', message: `cluster.conf:6: ${JOB}.hosts: unknown key "hosts"` });
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
