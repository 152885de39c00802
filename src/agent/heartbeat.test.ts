/**
 * A report the server took stands for a heartbeat: the next heartbeat goes a whole period after
 * it, not on the old beat, and an older report answered late does not push it back. Against a
 * stand-in server that answers every report (or holds one when told) and notes when each came;
 * the tests send reports themselves, as a deploy's changes would.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from './agent.js';
import { until } from './balancers/test-daemons.js';

const HEARTBEAT_MS = 2000;
/** How long no report must come before a test starts (well under a period: no heartbeat goes meanwhile). */
const QUIET_MS = 400;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A report as the stand-in saw it: when it came, and when it was answered (performance.now(), this process). */
interface Seen {
  at: number;
  answeredAt?: number;
}

/**
 * The stand-in server and an agent on it; `holdNext()` holds the next report until the function it
 * returns is called; `beats`: when the agent's heartbeat timer fired (performance.now()). The agent
 * sends reports of its own too (trust, runtimes, capacity, when a loaded machine gets to them): the
 * tests count the beats themselves, not the requests.
 */
async function withAgent(
  run: (agent: Agent, reports: Seen[], holdNext: () => Promise<() => void>, beats: number[]) => Promise<void>,
): Promise<void> {
  const reports: Seen[] = [];
  let hold: ((answer: () => void) => void) | undefined;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url!, 'http://x');
    req.resume();
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (url.pathname === '/api/v1/agent/join') return send(200, { token: 't0k', heartbeatMs: HEARTBEAT_MS });
      if (url.pathname === '/api/v1/agent/report') {
        const seen: Seen = { at: performance.now() };
        reports.push(seen);
        const answer = (): void => {
          send(200, { generation: 0 });
          seen.answeredAt = performance.now();
        };
        if (hold) {
          hold(answer);
          hold = undefined;
        } else answer();
        return;
      }
      if (url.pathname === '/api/v1/agent/desired') return; // held: the agent's stop cuts it
      send(404, { code: 'NOOPS_E_NOT_FOUND', message: `no route ${req.method} ${url.pathname}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const root = mkdtempSync(join(tmpdir(), 'noops-heartbeat-'));
  dirs.push(root);
  const agent = new Agent({
    server: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    joinToken: 'join',
    root,
    name: 'h1',
    labels: {},
    log: () => {},
    ctl: false,
    hostMetrics: false,
    // no collection in the test (its points are sent at once, in a report that is no heartbeat)
    metricsEveryMs: 3_600_000,
  });
  const beats: number[] = [];
  const timer = agent as unknown as { heartbeat(): void };
  const beat = timer.heartbeat.bind(agent);
  timer.heartbeat = () => {
    beats.push(performance.now());
    beat();
  };
  try {
    await agent.start();
    await until('the first heartbeat was answered', () => reports[0]?.answeredAt !== undefined);
    // what the first answer set off (trust noted, runtimes read: a report each) goes before the test's own
    let seen = -1;
    await until(
      'no report for QUIET_MS',
      async () => {
        const now = reports.length;
        if (now === seen && reports.every((r) => r.answeredAt !== undefined)) return true;
        seen = now;
        await new Promise((r) => setTimeout(r, QUIET_MS));
        return false;
      },
      10_000,
    );
    await run(agent, reports, () => new Promise((resolve) => (hold = resolve)), beats);
  } finally {
    await agent.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test('reports the server took take the place of the heartbeats; the next one comes a period after the last', async () => {
  await withAgent(async (agent, reports, _hold, beats) => {
    // Reports every 100 ms for two and a half heartbeat periods: the beat alone would fire twice or more.
    const first = beats.length;
    let sent = 0;
    const end = performance.now() + 2.5 * HEARTBEAT_MS;
    while (performance.now() < end) {
      await agent.report();
      sent++;
      await new Promise((r) => setTimeout(r, 100));
    }
    const fired = beats.length - first;
    // one may come from a stall of a whole period between two reports on a loaded machine, not two
    assert.ok(fired <= 1, `the heartbeat fired ${fired} times between ${sent} reports sent every 100 ms (period ${HEARTBEAT_MS} ms)`);
    // Measured from a report that was alone on its way: the newest report sent arms the timer, and
    // a beat that fired in a stall above (or one of the agent's own reports) may be answered after
    // a newer one (CI saw a beat 1,046 ms after "the last" report's answer that way).
    let last: Seen | undefined;
    let count = 0;
    for (let tries = 0; tries < 3 && last === undefined; tries++) {
      await until('every report answered', () => reports.every((r) => r.answeredAt !== undefined));
      count = beats.length;
      const n = reports.length;
      await agent.report();
      if (beats.length === count && reports.length === n + 1) last = reports[n];
    }
    assert.ok(last, 'a report alone on its way, in three tries');
    await until('the next heartbeat came', () => beats.length > count, 5 * HEARTBEAT_MS);
    const gap = beats[count]! - last.answeredAt!;
    // a timer fires a period after the answer was read, never sooner (1 ms: a timer's rounding)
    assert.ok(gap >= HEARTBEAT_MS - 1, `the heartbeat came ${gap.toFixed(0)} ms after the last report was answered`);
  });
});

test('an older report answered after a newer one does not push the next heartbeat back', async () => {
  await withAgent(async (agent, _reports, holdNext, beats) => {
    const held = holdNext();
    const slow = agent.report(); // sent first, answered last
    const release = await held;
    await agent.report(); // sent after it, answered at once: it arms the next heartbeat
    const k = beats.length;
    await until('a heartbeat came a period after the fast report', () => beats.length > k, 5 * HEARTBEAT_MS);
    // The slow report's answer comes half a period after that heartbeat's: were it to arm the
    // timer, the next heartbeat would come a whole period after it, not half of one.
    await new Promise((r) => setTimeout(r, HEARTBEAT_MS / 2));
    const releasedAt = performance.now();
    release();
    await slow;
    await until('the heartbeat after it came', () => beats.length > k + 1, 5 * HEARTBEAT_MS);
    const gap = beats[k + 1]! - releasedAt;
    assert.ok(gap < HEARTBEAT_MS - 1, `the heartbeat came ${gap.toFixed(0)} ms after the older report was answered: that answer armed it`);
  });
});
