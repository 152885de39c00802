import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nearestSecret, secretFromText, secretNamesOf, secretValues } from './index.js';

const rows = [
  { scope: 'cop.acme', name: 'db' },
  { scope: 'cop.acme_owt.web', name: 'db' },
  { scope: 'cop.acme_owt.web_pdl.shop_service.api_job.web', name: 'db' },
  { scope: 'cop.acme_owt.mail', name: 'smtp' },
];

test('the nearest secret at or above a tag wins', () => {
  const job = 'cop.acme_owt.web_pdl.shop_service.api_job.web';
  assert.deepEqual(nearestSecret(rows, `${job}_cluster.prod`, 'db'), rows[2]);
  assert.deepEqual(nearestSecret(rows, job, 'db'), rows[2]);
  assert.deepEqual(nearestSecret(rows, 'cop.acme_owt.web_pdl.shop_service.cart_job.web', 'db'), rows[1]);
  assert.deepEqual(nearestSecret(rows, 'cop.acme_owt.ops', 'db'), rows[0]);
  // the order of the rows does not matter
  assert.deepEqual(nearestSecret([...rows].reverse(), job, 'db'), rows[2]);
});

test('a secret serves nothing beside or above its scope', () => {
  assert.equal(nearestSecret(rows, 'cop.acme_owt.web_pdl.shop', 'smtp'), undefined);
  assert.equal(nearestSecret(rows, 'cop.other_owt.web', 'db'), undefined);
  assert.equal(nearestSecret(rows, 'cop.acme', 'smtp'), undefined);
  // a value that starts the same is another node
  assert.equal(nearestSecret([{ scope: 'cop.acme_owt.we', name: 'db' }], 'cop.acme_owt.web', 'db'), undefined);
});

test("the secrets a release needs: its own and its processes', each once, sorted", () => {
  assert.deepEqual(secretNamesOf({ secretEnv: { A: 'db', B: 'api' }, processes: [{ secretEnv: { C: 'db', D: 'key' } }, {}] }), [
    'api',
    'db',
    'key',
  ]);
  assert.deepEqual(secretNamesOf({ processes: [{}] }), []);
});

test('secret values become environment variables; a missing one is left out', () => {
  assert.deepEqual(secretValues({ DB_PASSWORD: 'db', API_KEY: 'api' }, { db: 's3cret' }), { DB_PASSWORD: 's3cret' });
  assert.deepEqual(secretValues(undefined, { db: 'x' }), {});
  assert.deepEqual(secretValues({ A: 'db' }, undefined), {});
});

test('a value read from text loses one final line break only', () => {
  assert.equal(secretFromText('s3cret\n'), 's3cret');
  assert.equal(secretFromText('s3cret\r\n'), 's3cret');
  assert.equal(secretFromText('a\nb\n\n'), 'a\nb\n');
  assert.equal(secretFromText('no break'), 'no break');
});
