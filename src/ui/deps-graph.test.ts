import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DepEdge } from '../api/index.js';
import { depsGraph, edgeRows, LABEL_CHARS, layoutDeps, LAYOUT, pageTag, shortLabel } from './deps-graph.js';

const CART = 'cop.acme_owt.web_pdl.shop_service.cart_job.web';
const CART_API = 'cop.acme_owt.web_pdl.shop_service.cart_job.api';
const PAY = 'cop=acme,service=pay';
const DB = 'cop=acme,owt=web,pdl=shop,service=db';
const edge = (from: string, to: string, over: Partial<DepEdge> = {}): DepEdge => ({
  from,
  to,
  declared: true,
  observed: false,
  lastSeen: null,
  ...over,
});

test('callers are grouped by job, callees by selector; an edge is declared, observed or both', () => {
  const g = depsGraph({
    selector: 'cop=acme,owt=web,pdl=shop,service=cart',
    uses: [
      edge(CART, PAY),
      edge(CART_API, PAY, { declared: false, observed: true, lastSeen: '2026-12-03T09:00:00.000Z' }),
      edge(CART, DB, { declared: false, observed: true, lastSeen: '2026-12-03T08:00:00.000Z' }),
    ],
    usedBy: [edge('cop.acme_owt.web_pdl.shop_service.front_job.web', 'cop=acme,service=cart', { observed: true })],
  });
  assert.deepEqual(
    g.uses.map((p) => [p.id, p.kind, p.edges.length, p.lastSeen]),
    [
      [DB, 'observed', 1, '2026-12-03T08:00:00.000Z'],
      [PAY, 'both', 2, '2026-12-03T09:00:00.000Z'],
    ],
  );
  assert.deepEqual(
    g.usedBy.map((p) => [p.label, p.tag, p.kind]),
    [['service.front_job.web', 'cop.acme_owt.web_pdl.shop_service.front_job.web', 'both']],
  );
});

test("a peer links to its node's page: a job by its tag, a selector by its pairs as a (partial) tag", () => {
  assert.equal(pageTag(CART), CART);
  assert.equal(pageTag(PAY), 'cop.acme_service.pay');
  assert.equal(pageTag('not a tag!'), 'not a tag!');
});

test('labels: a tag by its two lowest levels, a short selector as written, a long one by its last pairs; cut with an ellipsis', () => {
  assert.equal(shortLabel(CART), 'service.cart_job.web');
  assert.equal(shortLabel(PAY), PAY);
  assert.equal(shortLabel(DB), 'pdl=shop,service=db');
  const long = shortLabel(`cop.acme_service.${'x'.repeat(60)}`);
  assert.equal(long.length, LABEL_CHARS);
  assert.ok(long.endsWith('…'));
});

test('the layout: callers left, callees right, each column centred on the node; edges from caller to callee', () => {
  const one = { id: 'a', label: 'a', tag: 'a', kind: 'declared' as const, edges: [], lastSeen: null };
  const l = layoutDeps({ usedBy: [one], uses: [one, one, one] });
  assert.equal(l.uses.length, 3);
  assert.equal(l.usedBy.length, 1);
  const mid = (b: { y: number }) => b.y + l.boxHeight / 2;
  assert.equal(mid(l.center), l.height / 2, 'the node in the middle');
  assert.equal(mid(l.usedBy[0]!), l.height / 2, 'a single caller beside it');
  assert.equal(mid(l.uses[1]!), l.height / 2, 'the middle callee beside it');
  assert.ok(l.usedBy[0]!.x + l.boxWidth < l.center.x && l.center.x + l.boxWidth < l.uses[0]!.x, 'three columns apart');
  assert.ok(
    l.uses.every((b) => b.y >= 0 && b.y + l.boxHeight <= l.height),
    'every box inside',
  );
  assert.match(l.usedBy[0]!.path, new RegExp(`^M${LAYOUT.margin + LAYOUT.boxWidth},`), "a caller's edge starts at its right side");
  assert.match(l.uses[0]!.path, new RegExp(`${l.uses[0]!.x},${mid(l.uses[0]!)}$`), "a callee's edge ends at its left side");
  assert.equal(layoutDeps({ usedBy: [], uses: [] }).height, LAYOUT.margin * 2 + LAYOUT.boxHeight, 'alone: one row');
});

test('the table lists each edge once: callers first, an edge inside the node not twice', () => {
  const inside = edge(CART_API, PAY, { declared: false, observed: true });
  const rows = edgeRows({ usedBy: [edge(CART, PAY), inside], uses: [inside, edge(CART_API, DB)] });
  assert.deepEqual(
    rows.map((e) => [e.from, e.to]),
    [
      [CART, PAY],
      [CART_API, PAY],
      [CART_API, DB],
    ],
  );
});
