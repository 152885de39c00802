/** When runtimes leave a host: the pure decision. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredInstance } from '../api/types.js';
import { runtimesToRemove } from '../runtimes/index.js';
import { runtimeUse } from './runtime-prune.js';
import type { InstanceState } from './state.js';

const DAY = 24 * 3600_000;

function instance(runtimes: Record<string, string>): Pick<InstanceState, 'desired'> {
  return { desired: { manifest: { runtimes } } as unknown as DesiredInstance };
}

test('a runtime in use is used now; one a switch leaves unused keeps the keep time from that moment', () => {
  const installedAt = '2024-01-01T00:00:00.000Z';
  const installed = [
    { name: 'node', version: '18.20.4', installedAt }, { name: 'node', version: '22.23.3', installedAt }, { name: 'jdk', version: '17', installedAt },
  ];
  const t0 = Date.parse('2024-01-04T00:00:00.000Z');
  // node 18 ran for three days without a deploy: its stamp is from the deploy that started it.
  const stale = { 'node@18.20.4': t0 - 3 * DAY, 'jdk@17': t0 - 2 * DAY };
  const before = runtimeUse({ a: instance({ node: '18.20.4' }) }, stale, t0);
  assert.deepEqual([...before.inUse], ['node@18.20.4']);
  assert.deepEqual(before.lastUsed, { 'node@18.20.4': t0, 'jdk@17': t0 - 2 * DAY }, 'stamped now; the input is left alone');
  assert.equal(stale['node@18.20.4'], t0 - 3 * DAY);

  // The deploy switches to node 22: node 18 stays a day from now, the jdk unused for two days goes.
  const after = runtimeUse({ a: instance({ node: '22.23.3' }) }, before.lastUsed, t0 + 1000);
  assert.deepEqual([...after.inUse], ['node@22.23.3']);
  assert.deepEqual(runtimesToRemove(installed, after.inUse, after.lastUsed, t0 + 1000, DAY), ['jdk@17']);
  assert.deepEqual(runtimesToRemove(installed, after.inUse, after.lastUsed, t0 + DAY, DAY), ['jdk@17']);
  // A day after its last use, with no deploy since, node 18 goes too; node 22, in use, never.
  const later = runtimeUse({ a: instance({ node: '22.23.3' }) }, after.lastUsed, t0 + DAY + 1);
  assert.deepEqual(runtimesToRemove(installed, later.inUse, later.lastUsed, t0 + DAY + 1, DAY), ['node@18.20.4', 'jdk@17']);
  assert.deepEqual(runtimeUse({}, {}, t0), { inUse: new Set(), lastUsed: {} });
});
