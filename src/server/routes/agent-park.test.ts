/**
 * A parked desired-state poll waits on three things at once (its desired state, its commands, its
 * client) with one function: whichever ends it, the others are taken back, so 10,000 agents
 * polling every 25 s leave nothing parked behind them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../api/index.js';
import { startServer } from '../index.js';

const CLUSTER = 'cop.acme_owt.web_pdl.shop_service.api_job.web_cluster.prod';
/** Long enough that only a wake answers a poll before the test's deadline, but for the timeout case. */
const LONG_POLL_MS = 1_500;

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a parked poll ended by its timeout, a wake, a command or its client leaving leaves nothing parked', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-agent-park-'));
  const server = await startServer({ dataDir: dir, listen: '127.0.0.1:0', longPollMs: LONG_POLL_MS });
  try {
    const { hub } = server.ctx;
    const admin = new ApiClient(server.url, readFileSync(server.adminTokenFile, 'utf8').trim());
    const joiner = new ApiClient(server.url, readFileSync(server.joinTokenFile, 'utf8').trim());
    const agent = new ApiClient(server.url, (await joiner.join({ name: 'h1', labels: {} })).token);
    await admin.setCluster({ tag: CLUSTER, hosts: ['h1'] });
    const { generation } = await agent.desired(-1, { commands: true });

    // the timeout: answered with the same state, after the long poll
    const t0 = Date.now();
    const timedOut = agent.desired(generation, { commands: true });
    await until('the poll parked', () => hub.waiting('h1') === 1);
    assert.equal((await timedOut).generation, generation);
    assert.ok(Date.now() - t0 >= LONG_POLL_MS - 50, 'it waited the long poll out');
    assert.equal(hub.waiting('h1'), 0);

    // a wake: answered at once, and its command wait taken back (the command queued next waits for the next poll)
    const woken = agent.desired(generation, { commands: true });
    await until('the poll parked', () => hub.waiting('h1') === 1);
    hub.notify('h1');
    assert.equal((await woken).commands?.length ?? 0, 0);
    assert.equal(hub.waiting('h1'), 0);
    const queued = await admin.command({ host: 'h1', action: 'restart', tag: CLUSTER });
    assert.deepEqual(
      (await agent.desired(generation, { commands: true })).commands?.map((c) => c.id),
      [queued.id],
      'a command queued while no poll was parked is handed to the next one at once',
    );

    // a command: answered at once, its desired-state wait taken back
    const commanded = agent.desired(generation, { commands: true });
    await until('the poll parked', () => hub.waiting('h1') === 1);
    const second = await admin.command({ host: 'h1', action: 'restart', tag: CLUSTER });
    assert.deepEqual(
      (await commanded).commands?.map((c) => c.id),
      [second.id],
    );
    assert.equal(hub.waiting('h1'), 0);

    // its client leaves: the poll ends, nothing is read for it, and a command queued after stays
    // queued for the next poll
    const desired = server.ctx.desired;
    const answer = desired.answer.bind(desired);
    let answers = 0;
    desired.answer = (...args) => {
      answers++;
      return answer(...args);
    };
    const left = new AbortController();
    const abandoned = agent.desired(generation, { commands: true, signal: left.signal });
    await until('the poll parked', () => hub.waiting('h1') === 1);
    left.abort();
    await assert.rejects(abandoned);
    await until('the abandoned poll taken back', () => hub.waiting('h1') === 0);
    for (let turn = 0; turn < 3; turn++) await new Promise((r) => setImmediate(r));
    assert.equal(answers, 0, 'no desired state read for a client that left');
    const third = await admin.command({ host: 'h1', action: 'restart', tag: CLUSTER });
    assert.deepEqual(
      (await agent.desired(generation, { commands: true })).commands?.map((c) => c.id),
      [third.id],
    );
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a server that stops while polls are parked reports no failure for the reads it cut', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-agent-park-'));
  const server = await startServer({ dataDir: dir, listen: '127.0.0.1:0', longPollMs: 20_000 });
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  try {
    const joiner = new ApiClient(server.url, readFileSync(server.joinTokenFile, 'utf8').trim());
    const agents = await Promise.all(
      ['h1', 'h2', 'h3'].map(async (name) => new ApiClient(server.url, (await joiner.join({ name, labels: {} })).token)),
    );
    const generations = await Promise.all(agents.map((a) => a.desired(-1, { commands: true })));
    const polls = agents.map((a, i) => a.desired(generations[i]!.generation, { commands: true }).catch(() => 'cut'));
    await until('the polls parked', () => ['h1', 'h2', 'h3'].every((h) => server.ctx.hub.waiting(h) === 1));
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk));
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
    await server.close();
    await Promise.all(polls);
    for (let turn = 0; turn < 3; turn++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      written.filter((w) => w.startsWith('noops server:')),
      [],
      'no failure written for the polls the stop cut',
    );
  } finally {
    process.stderr.write = write;
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
