/** When runtimes leave a host: the pure decision, and the Agent's timer on real folders. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DesiredInstance } from '../../api/index.js';
import { sha256File } from '../../artifacts/index.js';
import { installRuntime, runtimesToRemove } from '../../runtimes/index.js';
import { makeTarball } from '../../runtimes/test-runtimes.js';
import { Agent } from '../agent.js';
import { runtimeUse } from './runtime-prune.js';
import type { InstanceState } from '../state.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

function instance(runtimes: Record<string, string>): Pick<InstanceState, 'desired'> {
  return { desired: { manifest: { runtimes } } as unknown as DesiredInstance };
}

test('a runtime in use is used now; one a switch leaves unused keeps the keep time from that moment', () => {
  const installedAt = '2024-01-01T00:00:00.000Z';
  const installed = [
    { name: 'node', version: '18.20.4', installedAt },
    { name: 'node', version: '22.23.3', installedAt },
    { name: 'jdk', version: '17', installedAt },
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

test('the Agent removes a runtime unused for its keep time on its own timer, with no deploy', async () => {
  const root = mkdtempSync(join(tmpdir(), 'noops-rt-prune-'));
  const keepMs = 800;
  try {
    const file = await makeTarball(root, { 'bin/tool': { text: '#!/bin/sh\n', mode: 0o755 } });
    const ref = { name: 'tool', version: '1.0', sha256: await sha256File(file) };
    const { dir } = await installRuntime({ runtimesDir: join(root, 'runtimes'), ref, file });
    const lastUsed = Date.now();
    // The state a previous agent left: the runtime was last used just now, and nothing uses it any more.
    writeFileSync(join(root, 'state.json'), JSON.stringify({ generation: 1, instances: {}, runtimesUsed: { 'tool@1.0': lastUsed } }));
    const agent = new Agent({ root, name: 'h1', labels: {}, log: () => {}, ctl: false, runtimeKeepMs: keepMs, runtimePruneEveryMs: 50 });
    await agent.start();
    try {
      // Looked at every 20 ms: it is there while its keep time runs (no fixed sleep to a midpoint,
      // which a loaded machine may oversleep past the keep time), and goes once it is over.
      const deadline = Date.now() + 10_000;
      while (existsSync(dir) && Date.now() < deadline) await sleep(20);
      assert.ok(Date.now() - lastUsed >= keepMs, `kept while its keep time runs (gone ${Date.now() - lastUsed} ms after its last use)`);
      assert.ok(!existsSync(dir), 'removed once its keep time is over');
      assert.ok(Date.now() - lastUsed >= keepMs);
    } finally {
      await agent.stop(); // waits for the prune in progress
    }
    const state = JSON.parse(readFileSync(join(root, 'state.json'), 'utf8')) as { runtimesUsed: Record<string, number> };
    assert.deepEqual(state.runtimesUsed, {}, 'and forgotten');
  } finally {
    execFileSync('chmod', ['-R', 'u+w', root]);
    rmSync(root, { recursive: true, force: true });
  }
});
