/** Log rotation with a real writer, the file menu, tails and following. */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { followFiles, listLogFiles, rotate, rotatedPath, Supervisor, tailLines, type LogChunk } from './index.js';
import { rotateOrWarn } from './logs.js';
import { Scratch, until } from './test-kit.js';

const scratch = new Scratch();
after(() => scratch.remove());

describe('logs', () => {
  test('a log rotates at the size limit; the kept files shift and no more are kept', async () => {
    const sup = new Supervisor({ logCheckMs: 50 });
    // 100 numbered lines of 100 bytes every 20 ms: about 500 KB/s into a 20 KB limit.
    const s = scratch.spec(`i=0; while :; do i=$((i+1)); printf '%099d\\n' $i; [ $((i % 100)) = 0 ] && sleep 0.02; done`, {
      logs: { maxBytes: 20_000, keep: 2 },
    });
    const st = sup.start(s);
    const out = st.logs.out;
    await until('two rotations', () => existsSync(rotatedPath(out, 2)));
    await sup.stop(s.id);
    assert.equal(existsSync(rotatedPath(out, 3)), false, 'only 2 rotated files are kept');
    for (const f of [rotatedPath(out, 1), rotatedPath(out, 2)]) {
      const text = readFileSync(f, 'utf8');
      assert.ok(text.length >= 20_000, `${f} was rotated at the limit or later`);
      assert.match(text, /^(\d{99}\n)+$/, `${f} holds whole lines`);
    }
    // .1 begins where .2 ends, but for what the process wrote between the rotation's last look and
    // its truncate (copy-then-truncate: the process keeps its file open). That step is short, but a
    // loaded CI lost 11 lines in it once: at most one burst of the writer (100 lines) is allowed.
    const last2 = Number(readFileSync(rotatedPath(out, 2), 'utf8').trimEnd().split('\n').pop());
    const first1 = Number(readFileSync(rotatedPath(out, 1), 'utf8').split('\n')[0]);
    assert.ok(first1 > last2 && first1 - last2 - 1 <= 100, `.2 ends at line ${last2}, .1 begins at ${first1}`);
    const files = listLogFiles(st.logs, 2).map((f) => f.name);
    assert.deepEqual(files, [`${s.logName}.out.log`, `${s.logName}.err.log`, `${s.logName}.out.log.1`, `${s.logName}.out.log.2`]);
  });

  test('rotate copies what was written, empties the file, and the writer goes on at its start', () => {
    const path = join(scratch.dir, 'direct.log');
    writeFileSync(path, 'one\ntwo\n', { flag: 'a' });
    rotate(path, 3);
    assert.equal(readFileSync(rotatedPath(path, 1), 'utf8'), 'one\ntwo\n');
    assert.equal(statSync(path).size, 0);
    appendFileSync(path, 'three\n');
    rotate(path, 3);
    assert.equal(readFileSync(rotatedPath(path, 1), 'utf8'), 'three\n');
    assert.equal(readFileSync(rotatedPath(path, 2), 'utf8'), 'one\ntwo\n');
    rotate(path, 0);
    assert.equal(existsSync(rotatedPath(path, 3)), false);
  });

  test('tailLines gives the last N lines, across read chunks, with or without a final newline', () => {
    const path = join(scratch.dir, 'tail.log');
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(40)}`);
    writeFileSync(path, `${lines.join('\n')}\n`);
    assert.equal(tailLines(path, 3), `${lines.slice(-3).join('\n')}\n`);
    assert.equal(tailLines(path, 2000), `${lines.slice(-2000).join('\n')}\n`);
    writeFileSync(path, 'a\nb');
    assert.equal(tailLines(path, 1), 'b\n');
    assert.equal(tailLines(path, 10), 'a\nb\n');
    assert.equal(tailLines(join(scratch.dir, 'none.log'), 10), '');
  });

  test('followFiles yields appends, and starts over when a file is truncated', async () => {
    const a = join(scratch.dir, 'fa.log');
    const b = join(scratch.dir, 'fb.log');
    writeFileSync(a, 'old\n');
    writeFileSync(b, '');
    const stop = new AbortController();
    const got: LogChunk[] = [];
    const done = (async () => {
      for await (const chunk of followFiles([a, b], stop.signal, 20)) got.push(chunk);
    })();
    await new Promise((r) => setTimeout(r, 60));
    appendFileSync(a, 'new a\n');
    appendFileSync(b, 'new b\n');
    await until('both appends', () => got.length >= 2);
    writeFileSync(a, 'cut\n'); // shorter than what was read: truncated (as rotation does)
    await until('the truncated file again', () => got.some((c) => c.data === 'cut\n'));
    stop.abort();
    await done;
    assert.deepEqual(got.slice(0, 2), [
      { path: a, data: 'new a\n' },
      { path: b, data: 'new b\n' },
    ]);
  });
});

test('rotateOrWarn: a log that cannot be rotated is said once per cause as a warning, not swallowed, and never throws', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'noops-rotate-'));
  const warnings: string[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w.message);
  };
  process.on('warning', onWarning);
  try {
    const path = join(dir, 'web.out.log');
    mkdirSync(path); // a folder where the log file should be: opening it to rotate fails
    const policy = { maxBytes: 1, keep: 2 };
    assert.equal(rotateOrWarn(path, policy), false);
    assert.equal(rotateOrWarn(path, policy), false);
    await until('the warning', () => warnings.length > 0);
    await new Promise((resolve) => setImmediate(resolve)); // a second warning would be emitted by now
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, new RegExp(`^supervisor: cannot rotate ${path}: EISDIR.*; it grows until it can`));
    rmSync(path, { recursive: true });
    writeFileSync(path, 'x'.repeat(10));
    assert.equal(rotateOrWarn(path, policy), true, 'rotates again once it can');
  } finally {
    process.off('warning', onWarning);
    rmSync(dir, { recursive: true, force: true });
  }
});
