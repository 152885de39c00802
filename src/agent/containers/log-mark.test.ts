/**
 * The marked log writer on real files: the engine's frames (8-byte header, an RFC 3339 time, the
 * line) reach the two log files in the stream's order, each once, even when a line of one stream
 * is stamped before the line of the other that precedes it (the engine's two copiers stamp, then
 * queue: seen on engine 20.10 as 2 inversions in 10,000 alternating lines); what the mark covers
 * is skipped, and the mark keeps the latest time written.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MarkedLogWriter, readMark } from './log-mark.js';

const base = mkdtempSync(join(tmpdir(), 'noops-log-mark-'));
after(() => rmSync(base, { recursive: true, force: true }));

/** One frame of the engine's multiplexed stream: `stream` 1 stdout, 2 stderr. */
function frame(stream: 1 | 2, at: string, line: string): Buffer {
  const payload = Buffer.from(`${at} ${line}\n`);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

const T = (ns: number): string => `2026-12-04T16:00:00.${String(ns).padStart(9, '0')}Z`;

function files(name: string) {
  const logs = { out: join(base, name, 'p.out.log'), err: join(base, name, 'p.err.log') };
  const mark = join(base, name, 'state', 'p.logs-mark.json');
  const read = () => ({ out: readFileSync(logs.out, 'utf8'), err: readFileSync(logs.err, 'utf8') });
  return { logs, mark, read };
}

test('a line stamped before the line that precedes it in the stream is written, not taken for one written already', async () => {
  const f = files('inverted');
  const w = new MarkedLogWriter(f.logs, f.mark, { container: 'c1', at: null });
  // as the engine sent them: out-1 (t=20), then err-1 stamped earlier (t=10), then out-2 (t=30)
  w.write(Buffer.concat([frame(1, T(20), 'out-1'), frame(2, T(10), 'err-1'), frame(1, T(30), 'out-2')]));
  await w.close();
  assert.deepEqual(f.read(), { out: 'out-1\nout-2\n', err: 'err-1\n' });
  assert.deepEqual(readMark(f.mark, 'c1'), { container: 'c1', at: T(30) }, 'the latest time written');
});

test('from a mark: what it covers is skipped, everything after it is written in the stream order', async () => {
  const f = files('marked');
  const w = new MarkedLogWriter(f.logs, f.mark, { container: 'c1', at: T(20) });
  // the engine's `since` is whole seconds: it sends again what the mark covers
  w.write(
    Buffer.concat([
      frame(1, T(10), 'old-1'),
      frame(2, T(20), 'old-2'),
      frame(1, T(40), 'new-1'),
      frame(2, T(35), 'new-2'), // stamped before new-1, after the mark
      frame(1, T(50), 'new-3'),
    ]),
  );
  await w.close();
  assert.deepEqual(f.read(), { out: 'new-1\nnew-3\n', err: 'new-2\n' });
  assert.deepEqual(readMark(f.mark, 'c1'), { container: 'c1', at: T(50) });
});

test("an ended container's last lines, written after its successor's writer began, leave the mark to the successor", async () => {
  const f = files('successor');
  const old = new MarkedLogWriter(f.logs, f.mark, { container: 'c1', at: null });
  old.write(frame(1, T(10), 'old-1'));
  // the container ended, the supervisor started the next one: its writer takes the mark
  const next = new MarkedLogWriter(f.logs, f.mark, { container: 'c2', at: null });
  old.write(frame(1, T(20), 'old-2')); // the stream's tail, still flowing
  await old.close();
  assert.deepEqual(readMark(f.mark, 'c2'), { container: 'c2', at: null }, "the running container's mark, not the ended one's");
  next.write(frame(1, T(30), 'new-1'));
  await next.close();
  assert.deepEqual(readMark(f.mark, 'c2'), { container: 'c2', at: T(30) });
  assert.equal(f.read().out, 'old-1\nold-2\nnew-1\n');
});
