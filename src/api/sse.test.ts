import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeEvent, KEEP_ALIVE, readEvents, type ReadEvent } from './sse.js';

function stream(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

async function all(chunks: string[]): Promise<ReadEvent[]> {
  const out: ReadEvent[] = [];
  for await (const e of readEvents(stream(chunks))) out.push(e);
  return out;
}

test('what encodeEvent writes, readEvents reads back, across any chunking', async () => {
  const text = encodeEvent('deployment', { id: 1, message: 'two\nlines' }) + KEEP_ALIVE + encodeEvent('log', { line: 'é ✓' });
  const want = [
    { event: 'deployment', data: { id: 1, message: 'two\nlines' } },
    { event: 'log', data: { line: 'é ✓' } },
  ];
  assert.deepEqual(await all([text]), want);
  const bytes = [...text];
  assert.deepEqual(await all(bytes), want, 'one character at a time');
});

test('CR LF and CR line ends, multi-line data, comments and events without data', async () => {
  assert.deepEqual(await all(['event: a\r\ndata: [1,\r\ndata: 2]\r\n\r\n', ': hi\r', '\revent: empty\n\ndata: 3\n\n']), [
    { event: 'a', data: [1, 2] },
    { event: 'message', data: 3 },
  ]);
});

test('a stream that ends in the middle of an event drops it', async () => {
  assert.deepEqual(await all(['event: a\ndata: 1\n']), []);
});
