import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTyping, KeyMap } from './keys.js';

function map() {
  const ran: string[] = [];
  const keys = new KeyMap(
    [
      { keys: '/', help: 'search', run: () => ran.push('search') },
      { keys: 'g h', help: 'hosts', run: () => ran.push('hosts') },
      { keys: 'g t', help: 'tree', run: () => ran.push('tree') },
    ],
    1000,
  );
  return { keys, ran };
}

test('single keys and sequences run their binding', () => {
  const { keys, ran } = map();
  assert.equal(keys.press('/', 0), true);
  assert.equal(keys.press('g', 10), true);
  assert.equal(keys.press('h', 20), true);
  assert.equal(keys.press('g', 30), true);
  assert.equal(keys.press('t', 40), true);
  assert.deepEqual(ran, ['search', 'hosts', 'tree']);
});

test('a sequence is forgotten after its time, and unknown keys pass through', () => {
  const { keys, ran } = map();
  keys.press('g', 0);
  assert.equal(keys.press('h', 2000), false);
  assert.equal(keys.press('x', 2001), false);
  keys.press('g', 3000);
  assert.equal(keys.press('x', 3001), false);
  assert.equal(keys.press('h', 3002), false, 'the x broke the sequence');
  assert.deepEqual(ran, []);
});

test('keys typed into a field or with a modifier are not shortcuts', () => {
  const none = { ctrlKey: false, metaKey: false, altKey: false };
  assert.equal(isTyping({ tagName: 'INPUT' } as unknown as EventTarget, none), true);
  assert.equal(isTyping({ tagName: 'DIV', isContentEditable: true } as unknown as EventTarget, none), true);
  assert.equal(isTyping({ tagName: 'A' } as unknown as EventTarget, none), false);
  assert.equal(isTyping(null, { ...none, ctrlKey: true }), true);
});
