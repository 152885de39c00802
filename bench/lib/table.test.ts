import { test } from 'node:test';
import assert from 'node:assert/strict';
import { table } from './table.js';

test('columns are aligned, numbers to the right, missing values as "-"', () => {
  assert.equal(
    table(
      'T',
      ['name', 'ms'],
      [
        ['a', 5],
        ['longer', 120],
        ['c', null],
      ],
    ),
    ['T', 'name     ms', '------  ---', 'a         5', 'longer  120', 'c         -', ''].join('\n'),
  );
});
