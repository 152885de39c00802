import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProcfile } from './procfile.js';

test('names are folded to lower case; comments, blanks and CRLF are ignored', () => {
  const text = '\uFEFF# processes\r\nweb: node server.js --port $PORT\r\n\r\n  Worker_2 :  node jobs.js  \nclock-1:sh -c "a: b"\n';
  assert.deepEqual(parseProcfile(text), [
    { name: 'web', command: 'node server.js --port $PORT' },
    { name: 'worker_2', command: 'node jobs.js' },
    { name: 'clock-1', command: 'sh -c "a: b"' },
  ]);
});

test('an empty Procfile has no processes', () => {
  assert.deepEqual(parseProcfile(''), []);
});

test('a bad line names the line', () => {
  assert.throws(() => parseProcfile('web: a\nthis is not a process\n'), {
    code: 'NOOPS_E_MANIFEST',
    message: 'Procfile:2: "this is not a process" is not "name: command"',
  });
  assert.throws(() => parseProcfile('web.1: a\n'), { message: 'Procfile:1: "web.1: a" is not "name: command"' });
});

test('an empty command, a name starting with "-", and a duplicate are refused', () => {
  assert.throws(() => parseProcfile('web:\n'), { message: 'Procfile:1: process "web" has no command' });
  assert.throws(() => parseProcfile('-web: x\n'), { message: /^Procfile:1: "-web" is not a process name/ });
  assert.throws(() => parseProcfile('web: a\nWEB: b\n'), {
    message: 'Procfile:2: process "web" is defined twice (names are case-insensitive)',
  });
});
