/**
 * `POST /rebalance` as a request the scheduler loop's leader carries out (schedule-rebalance.ts),
 * on a real server's store (SQLite), the loop's ticks driven by the test: a rebalance asked while a
 * host falls silent is made in the same tick as the migration, each move once and neither lost;
 * a request no leader takes up is cancelled and never made.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, TREE, type TestApp, until } from './test-app.js';
import { ScheduleLoop } from './schedule-loop.js';
import { schedulePlanner } from './schedule-planner.js';
import { requestRebalance } from './schedule-rebalance.js';
import { scheduleState, scheduleWriter } from './schedule-store-ports.js';

const GiB = 1024 ** 3;
const SPEC = { count: 1, cpu: 1, memory: 0, constraints: [], distinctHosts: false, spread: null };
const SMALL = TREE.MAIL_CLUSTER;
const BIG = TREE.CLUSTER;

let t: TestApp;
const agents: Record<string, string> = {};
let loop: ScheduleLoop;
const logged: string[] = [];

const hostsOf = async (tag: string): Promise<string[]> => [...((await t.ctx.store.getCluster(tag))?.hosts ?? [])].sort();
const events = async (tag: string, kind: string) =>
  (await t.ctx.store.listPlacements({ tag })).filter((e) => e.kind === kind).map((e) => [e.from, e.to]);
const report = async (names: string[]): Promise<void> => {
  for (const h of names) await t.report(agents[h]!, {});
};

describe('rebalance requests', () => {
  before(async () => {
    t = await startTestApp({ longPollMs: 50 });
    await t.ctx.schedule!.loop.follow(); // this test ticks its own loop
    for (const h of ['h1', 'h2', 'h3', 'h4']) {
      agents[h] = await t.agent(h);
      await t.ctx.store.schedule.setHostCapacity(h, { cpu: 4, memory: 8 * GiB, disk: 100 * GiB, freePorts: 1000 });
      await t.ctx.store.updateHost(h, { scope: TREE.ROOT });
    }
    await report(['h1', 'h2', 'h3', 'h4']);
    // BIG (2 cores each) on h1 and h3; SMALL (1 core) alone on h2, the emptiest used host
    await t.cluster(BIG, ['h1', 'h3']);
    await t.cluster(SMALL, ['h2']);
    await t.ctx.store.schedule.setClusterSchedule(BIG, { ...SPEC, count: 2, cpu: 2 });
    await t.ctx.store.schedule.setClusterSchedule(SMALL, SPEC);
    loop = new ScheduleLoop({
      state: scheduleState(t.ctx),
      write: scheduleWriter(t.ctx, (l) => logged.push(l)),
      planner: schedulePlanner(),
      downAfterMs: 1500,
      log: (l) => logged.push(l),
    });
  });
  after(() => t.close());

  it('a rebalance asked while a host falls silent: the move and the migration are both made, once', async () => {
    // sent now (inject's answer is lazy until awaited), answered once the leader's tick made it
    const asked = (async () => t.call(t.adminToken, 'POST', '/api/v1/rebalance', { maxMoves: 10 }))();
    await until('the request to be recorded', async () => (await t.ctx.store.schedule.pendingRebalanceRequests()).length === 1);
    assert.deepEqual(await hostsOf(SMALL), ['h2'], 'the route itself writes no placement');
    // h3 (one of BIG's) falls silent before the leader's next tick
    await until('h3 to be unheard', async () => {
      await report(['h1', 'h2', 'h4']);
      return !loop.isUp({ lastSeen: t.ctx.reports.lastSeen('h3', null) });
    });
    await loop.tick();
    const answer = await asked;
    assert.equal(answer.statusCode, 200, answer.body);
    assert.deepEqual(answer.json(), {
      dryRun: false,
      moves: [{ tag: SMALL, from: 'h2', to: 'h1', reason: 'free host h2' }],
      freedHosts: ['h2'],
    });
    assert.deepEqual(await hostsOf(SMALL), ['h1'], 'the move is made');
    const big = await hostsOf(BIG);
    assert.ok(big.includes('h1') && !big.includes('h3') && big.length === 2, `the migration is kept too: ${big} (${logged.join('; ')})`);
    // another tick (and another leader's) makes nothing twice
    await report(['h1', 'h2', 'h4']);
    await loop.tick();
    assert.deepEqual(await events(SMALL, 'rebalance'), [['h2', 'h1']]);
    assert.deepEqual(await events(BIG, 'migrate'), [['h3', big.find((h) => h !== 'h1')!]]);
    assert.deepEqual(await t.ctx.store.schedule.pendingRebalanceRequests(), []);
    const audit = (await t.ctx.store.listAudit({ action: 'rebalance' })).map((a) => a.actor);
    assert.deepEqual(audit, ['admin'], 'audited once, under the name of who asked');
  });

  it('a request no leader carries out in time is cancelled (NOOPS_E_NO_LEADER), and never made after', async () => {
    const before_ = [await hostsOf(SMALL), await hostsOf(BIG)];
    await assert.rejects(
      requestRebalance(t.ctx, { actor: 'admin', maxMoves: 10, movable: null }, 300),
      (err: { code?: string }) => err.code === 'NOOPS_E_NO_LEADER',
    );
    assert.equal((await t.ctx.store.schedule.getRebalanceRequest(2))?.status, 'cancelled');
    await report(['h1', 'h2', 'h4']);
    await loop.tick();
    assert.deepEqual([await hostsOf(SMALL), await hostsOf(BIG)], before_, 'nothing moved');
    assert.equal((await t.ctx.store.schedule.getRebalanceRequest(2))?.status, 'cancelled', 'and it stays cancelled');
    assert.equal((await t.ctx.store.listAudit({ action: 'rebalance' })).length, 1);
  });
});
