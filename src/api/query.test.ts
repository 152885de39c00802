import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queryString } from './query.js';

test('a query string holds the pairs with a value, in order, encoded; none: empty', () => {
  assert.equal(queryString({ status: 'all', selector: '', key: undefined, limit: 500 }), '?status=all&limit=500');
  assert.equal(queryString({ key: 'h1/app.queue/cop=acme,job=web' }), '?key=h1%2Fapp.queue%2Fcop%3Dacme%2Cjob%3Dweb');
  assert.equal(queryString({ from: 0 }), '?from=0');
  assert.equal(queryString({}), '');
});
