import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NoopsError } from '../errors/index.js';
import { parseClusterConf } from './cluster-conf.js';
import { parsePolicy, resolvePolicy } from './deploy-policy.js';
import { driverOf } from './executor.js';

const release = (driver?: string) => ({ manifest: driver === undefined ? {} : { driver } });

test("a desired entry's driver: the release's noops.yaml, else the cluster's policy, else none (process)", () => {
  assert.equal(driverOf(release('process'), 'container'), 'process', "noops.yaml's wins");
  assert.equal(driverOf(release('container'), undefined), 'container');
  assert.equal(driverOf(release(), 'container'), 'container', "the policy's");
  assert.equal(driverOf(release(), undefined), undefined, 'neither: a process');
  assert.equal(driverOf(release('vm'), 'container'), 'container', 'a driver this server does not know is not taken');
});

test('the policy key `driver`: from the API, a flag or cluster.conf, checked against the drivers', () => {
  assert.equal(parsePolicy({ driver: 'container' }, 'cluster set').driver, 'container');
  assert.equal(resolvePolicy().driver, undefined, 'no default: absent is a process');
  assert.equal(resolvePolicy({ driver: 'container' }, { driver: 'process' }).driver, 'process', "a deploy's override wins");
  assert.throws(
    () => parsePolicy({ driver: 'vm' }, 'cluster set'),
    (err: unknown) => err instanceof NoopsError && err.code === 'NOOPS_E_INPUT' && /driver is one of process, container/.test(err.message),
  );
  const [job] = parseClusterConf(
    'cluster:\n  name: prod\n  jobs: [cop.acme_owt.web_pdl.shop_service.api_job.web]\n  policy:\n    driver: container\ncop.acme_owt.web_pdl.shop_service.api_job.web:\n  host: [h1]\n',
  );
  assert.equal(job?.policy.driver, 'container');
  assert.throws(() =>
    parseClusterConf(
      'cluster:\n  name: prod\n  jobs: [cop.acme_owt.web_pdl.shop_service.api_job.web]\n  policy:\n    driver: lxc\ncop.acme_owt.web_pdl.shop_service.api_job.web:\n  host: [h1]\n',
    ),
  );
});
