/**
 * What time passing costs the pool view with a large fleet (issue 16 with issue 19's sizes): N
 * live hosts, every one a member of a pool, heartbeating every HEARTBEAT_MS (a report that changes
 * nothing), for SECONDS; the CPU time of this process meanwhile, and how late a host that falls
 * silent leaves the pool after its down-after. Run alone, in one process (no server, no network):
 *
 *   node --import tsx bench/balancers/liveness-cpu.ts [HOSTS=10000] [SECONDS=10]
 *
 * Prints one JSON line: {hosts, seconds, cpuMs, userMs, systemMs, silentLateMs, changes} (`changes`:
 * the pools worked out again while measured).
 */
import { Balancers } from '../../src/balance/index.js';
import { FakeRuns, MemoryBalanceStore, upProcess } from '../../src/balance/testing.js';

const SHOP = 'cop.acme_owt.web_pdl.shop_service.hello_job.web_cluster.dev';
/** The fleet's heartbeat (the server's default is 5 s). */
const HEARTBEAT_MS = 5_000;
/** Down after three heartbeats unheard (the server's DOWN_AFTER_HEARTBEATS). */
const DOWN_AFTER_MS = 3 * HEARTBEAT_MS;

async function main(): Promise<void> {
  const hosts = Number(process.argv[2] ?? 10_000);
  const seconds = Number(process.argv[3] ?? 10);
  const runs = new FakeRuns();
  runs.downAfterMs = DOWN_AFTER_MS;
  const store = new MemoryBalanceStore();
  for (let i = 0; i < hosts; i++) store.addHost(`h${i}`, `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
  store.addHost('lb', '10.255.0.1');
  const balancers = new Balancers({ reports: runs, store });
  await balancers.start();
  const report = (i: number): void => runs.report(`h${i}`, [upProcess(SHOP, 'aaaaaaaaa')]);
  // every host reports before the pool is set: the pool is then worked out once, not once per host joining
  runs.report('lb', []);
  for (let i = 0; i < hosts; i++) report(i);
  store.setPool('web', { selector: 'service=hello', host: 'lb', driver: 'haproxy', socket: '/run/haproxy.sock', backend: 'web' });
  await balancers.changed();
  for (let i = 0; i < hosts; i++) report(i); // heard now: none is near its down-after when the measure starts
  // heartbeats spread over the period, as a fleet's are: HOSTS / HEARTBEAT_MS reports a ms
  let next = 0;
  const perTick = Math.max(1, Math.round(hosts / (HEARTBEAT_MS / 10)));
  const beat = setInterval(() => {
    for (let k = 0; k < perTick; k++) {
      if (next !== 0) report(next); // h0 falls silent
      next = (next + 1) % hosts;
    }
    runs.report('lb', []);
  }, 10);
  let changes = 0;
  balancers.view.on('change', () => {
    changes += 1;
  });
  const cpu = process.cpuUsage();
  const started = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const used = process.cpuUsage(cpu);
  const measured = (Date.now() - started) / 1000;
  // h0 last reported at its start: it leaves the pool at its down-after, seen how late?
  const silentAt = runs.seenAt.get('h0')! + DOWN_AFTER_MS;
  let silentLateMs: number | null = null;
  while (Date.now() < silentAt + 5_000) {
    if (balancers.view.desiredMembers('web').find((m) => m.host === 'h0')?.state === 'maint') {
      silentLateMs = Date.now() - silentAt;
      break;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  clearInterval(beat);
  balancers.close();
  process.stdout.write(
    `${JSON.stringify({
      hosts,
      seconds: measured,
      cpuMs: Math.round((used.user + used.system) / 1000),
      userMs: Math.round(used.user / 1000),
      systemMs: Math.round(used.system / 1000),
      silentLateMs,
      changes,
    })}\n`,
  );
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
