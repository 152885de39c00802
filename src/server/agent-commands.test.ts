import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NoopsError } from '../errors/index.js';
import { COMMANDS_QUEUED_PER_HOST, AgentCommandQueue } from './agent-commands.js';

const req = { host: 'h1', action: 'logs' as const, tag: 'cop.a', process: null, lines: 5, follow: true, initiator: 'admin' };

test('a command goes queued -> running -> done, its output read by offset', async () => {
  const book = new AgentCommandQueue();
  const cmd = book.create(req);
  assert.equal(cmd.status, 'queued');
  const taken = await book.take('h1', 1_000);
  assert.deepEqual(taken, [{ id: cmd.id, action: 'logs', tag: 'cop.a', process: null, lines: 5, follow: true }]);
  assert.deepEqual(await book.take('h1', 10), [], 'taken once');
  assert.deepEqual(book.update('h1', cmd.id, { output: 'one\n' }), { cancelled: false });
  const first = await book.read(cmd.id, 0, 10);
  assert.deepEqual([first.status, first.output, first.offset], ['running', 'one\n', 4]);
  // A reader waiting for news is woken by the next update.
  const waiting = book.read(cmd.id, 4, 5_000);
  book.update('h1', cmd.id, { output: 'two\n', done: true });
  const second = await waiting;
  assert.deepEqual([second.status, second.output, second.offset], ['done', 'two\n', 8]);
  book.close();
});

test('an agent waiting for commands is woken by a new one; other hosts do not see it', async () => {
  const book = new AgentCommandQueue();
  const waiting = book.take('h2', 5_000);
  assert.deepEqual(await book.take('h3', 10), []);
  const cmd = book.create({ ...req, host: 'h2' });
  assert.equal((await waiting)[0]?.id, cmd.id);
  assert.throws(() => book.update('h1', cmd.id, { done: true }), { code: 'NOOPS_E_NOT_FOUND' });
  book.close();
});

test('cancel: the agent is told at its next update; errors end a command as failed', async () => {
  const book = new AgentCommandQueue();
  const a = book.create(req);
  await book.take('h1', 10);
  assert.equal(book.cancel(a.id).status, 'cancelled');
  assert.deepEqual(book.update('h1', a.id, { output: 'late' }), { cancelled: true });
  const b = book.create({ ...req, action: 'restart', follow: false });
  await book.take('h1', 10);
  book.update('h1', b.id, { error: { code: 'NOOPS_E_WATCH_UNKNOWN', message: 'no watch', hint: 'h' } });
  const read = await book.read(b.id, 0, 10);
  assert.deepEqual([read.status, read.error?.code], ['failed', 'NOOPS_E_WATCH_UNKNOWN']);
  assert.throws(() => book.peek(9999), { code: 'NOOPS_E_NOT_FOUND' });
  book.close();
});

test('unread output is bounded: a slow reader loses the oldest, and the offsets say so', async () => {
  const book = new AgentCommandQueue();
  const cmd = book.create(req);
  await book.take('h1', 10);
  const chunk = 'x'.repeat(600 * 1024);
  book.update('h1', cmd.id, { output: chunk });
  book.update('h1', cmd.id, { output: chunk });
  const read = await book.read(cmd.id, 0, 10);
  assert.equal(read.offset, 1200 * 1024);
  assert.equal(read.output.length, 1024 * 1024);
  book.close();
});

test('a host has at most COMMANDS_QUEUED_PER_HOST commands waiting; then NOOPS_E_COMMANDS_FULL (429), other hosts unaffected', async () => {
  const book = new AgentCommandQueue();
  for (let i = 0; i < COMMANDS_QUEUED_PER_HOST; i++) book.create(req);
  assert.throws(
    () => book.create(req),
    (e: unknown) => e instanceof NoopsError && e.code === 'NOOPS_E_COMMANDS_FULL' && e.status === 429,
  );
  assert.equal(book.create({ ...req, host: 'h2' }).status, 'queued');
  await book.take('h1', 10); // the agent takes them: room again
  assert.equal(book.create(req).status, 'queued');
  book.close();
});
