import { test } from 'node:test';
import assert from 'node:assert/strict';
import { feasible } from './filters.js';
import { Fleet } from './fleet.js';
import { NO_HOST, Targets } from './targets.js';
import { GiB, placeAsk, schedHost } from './testing.js';

/** A small seeded generator (the tests repeat). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What `first` must answer: the scan in order it stands for. */
function scan(order: number[], full: Float64Array, level: number, accept: (i: number) => boolean): number {
  for (const i of order) {
    if (full[i]! < level) return NO_HOST;
    if (accept(i)) return i;
  }
  return NO_HOST;
}

test('first answers what a scan in order answers, as hosts fill and empty', () => {
  const rand = random(7);
  for (let round = 0; round < 20; round++) {
    const n = 1 + Math.floor(rand() * 70);
    const hosts = Array.from({ length: n }, (_, i) =>
      schedHost(`h${i}`, {
        capacity: { cpu: 2 + Math.floor(rand() * 6), memory: (2 + Math.floor(rand() * 6)) * GiB, disk: 0 },
        up: rand() > 0.1,
      }),
    );
    const fleet = new Fleet(hosts);
    const filler = placeAsk('fill', { cpu: 0.5, memory: GiB / 2 });
    for (let i = 0; i < n; i++) for (let k = Math.floor(rand() * 10); k > 0; k--) if (feasible(hosts[i]!, filler)) fleet.take(i, filler);
    const full = new Float64Array(n).map(() => rand());
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => full[b]! - full[a]!);
    const targets = new Targets(fleet, order, full);
    for (let q = 0; q < 40; q++) {
      const ask = placeAsk('x', { cpu: [0, 0.25, 1, 3][Math.floor(rand() * 4)]!, memory: [0, GiB, 4 * GiB][Math.floor(rand() * 3)]! });
      const excluded = new Set(order.filter(() => rand() < 0.2));
      const accept = (i: number): boolean => !excluded.has(i) && fleet.usable[i] === 1 && feasible(hosts[i]!, ask);
      const level = rand() * 0.8;
      assert.equal(
        targets.first(level, ask.spec.cpu, ask.spec.memory, accept),
        scan(order, full, level, accept),
        `round ${round}, query ${q}`,
      );
      // a host changes: one more instance, or one fewer, and its fullness as the caller keeps it
      const i = Math.floor(rand() * n);
      if (rand() < 0.5 && feasible(hosts[i]!, filler)) fleet.take(i, filler);
      else if (hosts[i]!.allocated.cpu > 0) fleet.release(i, filler);
      full[i] = rand();
      targets.update(i);
    }
  }
});
