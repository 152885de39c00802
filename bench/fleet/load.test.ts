/**
 * The fan-out generator against a node:http server that answers long polls as the server does
 * (an answer at once when the generation is newer, else parked until a change or the poll's
 * time runs out): the benchmark's own counting, not the server's speed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { desiredFanOut, generationOf } from './load.js';

test('generationOf reads the generation an answer begins with, and parses what does not begin so', () => {
  assert.equal(generationOf('{"generation":42,"instances":[]}'), 42);
  assert.equal(generationOf('{"instances":[],"generation":7}'), 7);
});

test('the fan-out counts the answers with the new version; a poll that runs out before the call parks again; a failed one is counted', async () => {
  let generation = 1;
  let version = 'v1';
  const parked = new Set<{ res: ServerResponse; timer: NodeJS.Timeout }>();
  const answer = (res: ServerResponse): void => {
    const body = JSON.stringify({ generation, instances: [{ version }] });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  };
  const server = createServer((req, res) => {
    if (req.headers.authorization === 'Bearer broken') return void res.writeHead(500, { 'content-length': 0 }).end();
    const after = Number(new URL(req.url!, 'http://x').searchParams.get('after'));
    if (generation > after) return answer(res);
    // a short long poll: every poll runs out at least once while the generator waits for the server to settle (a second)
    const p = {
      res,
      timer: setTimeout(() => {
        parked.delete(p);
        answer(res);
      }, 300),
    };
    parked.add(p);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agents = ['a', 'b', 'c', 'broken'].map((name) => ({ name, token: name }));
  try {
    const figures = await desiredFanOut(
      url,
      process.pid,
      agents,
      'v2',
      async () => {
        // every poll runs out once more after the call began, with no newer generation: parked again, not counted
        await new Promise((r) => setTimeout(r, 400));
        generation = 2;
        version = 'v2';
        for (const p of parked) {
          clearTimeout(p.timer);
          answer(p.res);
        }
        parked.clear();
      },
      30_000,
    );
    assert.equal(figures.answered, 3, 'the three working agents, with v2');
    assert.equal(figures.failed, 1);
    assert.ok(figures.reparked! >= 6, `every working poll ran out before the call and again after it: ${figures.reparked}`);
    assert.ok(Number.isFinite(figures.p50Ms) && figures.p50Ms >= 0, `half answered: ${figures.p50Ms}`);
    assert.ok(Number.isNaN(figures.allMs), 'one of four never answered: no time for all');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
