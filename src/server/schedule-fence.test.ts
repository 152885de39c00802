/**
 * The scheduler loop's fence after a lost lead (issue 18; docs/scheduler.md, "Several servers"):
 * a tick that already passed its "do I still lead?" check when the lease is taken over must not
 * write. The loop's writes go under the fence it was given when it gained the loop, and keep it
 * after `lost`, so the database refuses them (NOOPS_E_FENCED) once another server holds the
 * lease; before, the fence was dropped on `lost` and the late write went through unfenced.
 *
 * On SQLite and on PostgreSQL (NOOPS_TEST_PG_URL): a real server's context, a `Leadership` of
 * the test's own (not alone, so fenced on both), and its store wrapped so that one chosen read of
 * the tick first has another server take the lease and waits until this one has lost it.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Leadership, LOOPS } from '../lead/index.js';
import type { Store } from '../store/index.js';
import { NEEDS_PG, testDatabase } from '../store/test-pg.js';
import { startServer, type RunningServer } from './index.js';
import { type ScheduleService, wireSchedule } from './schedule-wiring.js';
import { TREE, until } from './test-app.js';

const dir = mkdtempSync(join(tmpdir(), 'noops-schedule-fence-'));
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch((err: Error) => process.emitWarning(`cleanup: ${err.message}`));
  rmSync(dir, { recursive: true, force: true });
});

const GiB = 1024 ** 3;
const V = 'abcdef001';
/** the test leadership's lease: short, so it notices a takeover within a few hundred ms */
const LEASE_MS = 1000;

/** One read of the store to catch: `method` called with arguments `when` accepts, once. */
interface Trap {
  method: string;
  when: (args: unknown[]) => boolean;
  run: () => Promise<void>;
}

/** The store, with a trap that runs before the call it catches (every other call as it is). */
function trapped(store: Store): { store: Store; set(t: Trap): void; sprung(): boolean } {
  let trap: Trap | undefined;
  let sprung = false;
  const proxy = new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      const fn = v as (...a: unknown[]) => unknown;
      if (trap === undefined || prop !== trap.method) return fn.bind(target);
      return async (...args: unknown[]) => {
        const t = trap;
        if (t?.when(args)) {
          trap = undefined;
          await t.run();
          sprung = true;
        }
        return fn.apply(target, args);
      };
    },
  });
  return { store: proxy, set: (t) => (trap = t), sprung: () => sprung };
}

interface Setup {
  server: RunningServer;
  store: Store;
  lead: Leadership;
  service: ScheduleService;
  trap: ReturnType<typeof trapped>;
  /** arms the trap: at `method`'s call, another server takes the schedule loop and this one loses it first */
  loseAt(method: string, when: (args: unknown[]) => boolean): void;
  /** resolves after the tick in which the trap sprung ended */
  trappedTick(): Promise<void>;
}

const BACKENDS = [
  { name: 'sqlite', skip: false as const, db: async () => undefined },
  {
    name: 'postgres',
    skip: NEEDS_PG,
    db: async () => {
      const db = await testDatabase('noops_sfence');
      cleanups.push(() => db.drop());
      return db.url;
    },
  },
];

/** A real server whose own leadership is stopped, and the scheduler wired to a leadership of the test's own. */
async function setup(db: string | undefined, name: string): Promise<Setup> {
  const server = await startServer({ dataDir: join(dir, name), listen: '127.0.0.1:0', db, buildSandbox: 'none', log: () => {} });
  cleanups.push(() => server.close());
  // the server's own scheduler leads no more: its leases are given up, and only the test's loop runs
  await server.ctx.leadership.stop();
  const trap = trapped(server.ctx.store);
  const lead = new Leadership(server.ctx.store, { serverId: `old-${name}`, loops: [LOOPS.schedule], leaseMs: LEASE_MS, log: () => {} });
  const service = await wireSchedule({ ctx: { ...server.ctx, store: trap.store }, leadership: lead, bus: server.ctx.bus, log: () => {} });
  cleanups.push(async () => {
    await service.close();
    await lead.stop();
  });
  let ticked: Promise<void> | undefined;
  return {
    server,
    store: server.ctx.store,
    lead,
    service,
    trap,
    loseAt(method, when) {
      trap.set({
        method,
        when,
        run: async () => {
          // another server takes the loop over (as after this one paused past its lease) ...
          assert.ok((await server.ctx.store.acquireLease(LOOPS.schedule, `new-${name}`, 60_000, true)) !== undefined);
          // ... and this one notices at its next renewal: `lost`, while the tick is past its check
          await until('the old leader to lose the schedule loop', () => !lead.leads(LOOPS.schedule));
        },
      });
      ticked = new Promise<void>((resolve) => {
        const onTick = (): void => {
          if (!trap.sprung()) return;
          service.loop.off('ticked', onTick);
          resolve();
        };
        service.loop.on('ticked', onTick);
      });
    },
    async trappedTick() {
      await ticked;
    },
  };
}

/** Host `name` joined with room for the cluster, assigned above it. */
async function host(store: Store, name: string): Promise<void> {
  await store.upsertHost({ name, labels: {}, address: '127.0.0.1', joinedAt: new Date().toISOString() });
  await store.schedule.setHostCapacity(name, { cpu: 4, memory: 8 * GiB, disk: 100 * GiB, freePorts: 1000 });
  await store.updateHost(name, { scope: TREE.ROOT });
}

for (const b of BACKENDS) {
  describe(`the scheduler's fence after a lost lead (${b.name})`, { skip: b.skip }, () => {
    it("a dead host's entry is not dropped by a tick whose leader lost the loop past its check", async () => {
      const s = await setup(await b.db(), `dead-${b.name}`);
      // h-live is heard, h-dead never: the cluster of one runs on h-dead and must move to h-live
      await host(s.store, 'h-live');
      await host(s.store, 'h-dead');
      const beat = setInterval(
        () => void s.store.touchHosts([{ name: 'h-live', at: new Date().toISOString() }]).catch(() => undefined),
        200,
      );
      cleanups.push(async () => clearInterval(beat));
      await s.store.touchHosts([{ name: 'h-live', at: new Date().toISOString() }]);
      const at = new Date().toISOString();
      await s.store.putCluster({ tag: TREE.CLUSTER, hosts: ['h-dead'], policy: {}, conf: null, updatedAt: at });
      await s.store.schedule.setClusterSchedule(TREE.CLUSTER, {
        count: 1,
        cpu: 1,
        memory: 256 * 1024 ** 2,
        constraints: [],
        distinctHosts: false,
        spread: null,
      });
      await s.store.setDesired('h-dead', TREE.CLUSTER, {
        host: 'h-dead',
        tag: TREE.CLUSTER,
        version: V,
        sha256: '0'.repeat(64),
        manifest: { processes: [] },
        deploymentId: null,
        updatedAt: at,
      });
      // the tick asks whether a deployment runs on the cluster just before it drops h-dead's entry
      s.loseAt('listDeploymentHeads', (args) => (args[0] as { status?: string } | undefined)?.status === 'running');
      await s.lead.start();
      await s.trappedTick();
      assert.deepEqual((await s.store.getCluster(TREE.CLUSTER))?.hosts, ['h-live'], 'placed while it led (the tick reached the drop)');
      assert.deepEqual(
        (await s.store.listDesired(TREE.CLUSTER)).map((d) => d.host),
        ['h-dead'],
        "the former leader's late drop was refused: the entry is the new leader's to drop",
      );
      assert.deepEqual(await s.store.listStaleCopies(), []);
    });

    it('a stale copy is not cleared by a tick whose leader lost the loop past its check', async () => {
      const s = await setup(await b.db(), `stale-${b.name}`);
      // a host removed while its copy was stale: the tick forgets the copy (reading the cluster's entries first)
      await s.store.addStaleCopy({ host: 'h-gone', tag: TREE.CLUSTER, since: new Date().toISOString() });
      s.loseAt('listDesiredHeads', (args) => args[0] === TREE.CLUSTER);
      await s.lead.start();
      await s.trappedTick();
      assert.deepEqual(
        (await s.store.listStaleCopies()).map((c) => c.host),
        ['h-gone'],
        "the former leader's late clear was refused",
      );
      assert.deepEqual(await s.store.listPlacements({ tag: TREE.CLUSTER }), []);
    });
  });
}
