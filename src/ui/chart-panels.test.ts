import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectorOfTag } from './chart-panels.js';
import { lineLabel, panelChoice, panelRange, rangeChoice } from './chart-series.js';

test("a node's tag as the selector of its pairs", () => {
  assert.equal(selectorOfTag('cop.acme_owt.web_pdl.shop'), 'cop=acme,owt=web,pdl=shop');
  assert.equal(selectorOfTag('owt.web_cop.acme'), 'cop=acme,owt=web');
});

test('a line among several is labelled by its host and the tags that are not tree levels', () => {
  assert.equal(lineLabel({ endpoint: 'h1', tags: 'cop=acme,owt=web,process=web' }), 'h1 process=web');
  assert.equal(lineLabel({ endpoint: 'h2', tags: 'cop=acme' }), 'h2');
});

test("a page's range: zoomed from-to, else the named range, 1h when none or unknown", () => {
  assert.deepEqual(rangeChoice({ from: 10, to: 20, range: '6h' }), { fixed: { from: 10, to: 20 } });
  assert.deepEqual(rangeChoice({ range: '6h' }), { name: '6h' });
  assert.deepEqual(rangeChoice({ range: '3y' }), { name: '1h' });
  assert.deepEqual(rangeChoice({}), { name: '1h' });
});

test("a panel's chart: a zoom keeps the range picked, and a double-click goes back to it, not to the default", () => {
  let r = panelRange({ picked: '1h' }, { pick: '6h' });
  assert.deepEqual(panelChoice(r), { name: '6h' });
  r = panelRange(r, { zoom: { from: 100, to: 200 } });
  assert.deepEqual(panelChoice(r), { fixed: { from: 100, to: 200 } });
  r = panelRange(r, { reset: true });
  assert.deepEqual(panelChoice(r), { name: '6h' });
  assert.deepEqual(panelChoice(panelRange({ picked: '6h', zoomed: { from: 1, to: 2 } }, { pick: '1d' })), { name: '1d' });
});
