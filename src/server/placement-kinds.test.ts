/**
 * The store spells out the kinds of placement events (it may not import api/), and reads a kind it
 * does not know as `place`: both lists must stay equal, or a new kind would be shown as a
 * placement in the cluster's history. Checked by the compiler (the types) and by a store (the values).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PLACEMENT_KINDS, type PlacementKind } from '../api/index.js';
import type { PlacementEventKind } from '../store/index.js';
import { openStore } from '../store/open.js';

/** true only when A and B are the same union. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameKinds: Same<PlacementEventKind, PlacementKind> = true;

test("the store's placement event kinds are the wire's PLACEMENT_KINDS", async () => {
  assert.equal(sameKinds, true);
  const store = await openStore('sqlite::memory:');
  try {
    const tag = 'cop.a_cluster.c';
    await store.recordPlacements(PLACEMENT_KINDS.map((kind) => ({ tag, kind, from: null, to: 'h1', reason: kind })));
    const read = await store.listPlacements({ tag, limit: 1000 });
    assert.deepEqual(read.map((e) => e.kind).reverse(), [...PLACEMENT_KINDS], 'each kind is stored and read back as itself');
  } finally {
    await store.close();
  }
});
