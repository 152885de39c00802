/**
 * What a heap snapshot holds, by constructor: count and self size; with two snapshots (say at
 * 2,000 and 4,000 agents), what grew between them, and per agent: what each connected agent costs.
 *
 *   node --max-old-space-size=4096 --import tsx bench/fleet/heap-summary.ts A.heapsnapshot [TOP=40]
 *   node --max-old-space-size=4096 --import tsx bench/fleet/heap-summary.ts A.heapsnapshot B.heapsnapshot AGENTS_ADDED [TOP=40]
 */
import { readFileSync } from 'node:fs';

interface Group {
  count: number;
  size: number;
}

function summarize(file: string): Map<string, Group> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const groups = new Map<string, Group>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!]!;
    const name = snap.strings[snap.nodes[i + iName]!]!;
    // objects and closures by their name; strings, arrays, code and the rest by their type
    const key = type === 'object' || type === 'closure' || type === 'native' ? `${type} ${name.slice(0, 60)}` : `(${type})`;
    const g = groups.get(key) ?? { count: 0, size: 0 };
    g.count++;
    g.size += snap.nodes[i + iSize]!;
    groups.set(key, g);
  }
  return groups;
}

const args = process.argv.slice(2);
const a = args[0];
if (a === undefined) throw new Error('usage: heap-summary.ts A.heapsnapshot [TOP] | A.heapsnapshot B.heapsnapshot AGENTS_ADDED [TOP]');
const [b, added, topArg] = args[1]?.endsWith('.heapsnapshot') ? args.slice(1) : [undefined, args[1]];
const ga = summarize(a);
const total = (g: Map<string, Group>): number => [...g.values()].reduce((s, x) => s + x.size, 0);
const mb = (n: number): string => (n / 2 ** 20).toFixed(1);
if (b === undefined) {
  const top = Number(added ?? 40);
  console.log(`${a}: ${mb(total(ga))} MB in all`);
  for (const [k, g] of [...ga].sort((x, y) => y[1].size - x[1].size).slice(0, top))
    console.log(`${mb(g.size).padStart(8)} MB ${String(g.count).padStart(9)}  ${k}`);
} else {
  const gb = summarize(b);
  const n = Number(added);
  const top = Number(topArg ?? 40);
  console.log(`${a}: ${mb(total(ga))} MB; ${b}: ${mb(total(gb))} MB; +${((total(gb) - total(ga)) / n).toFixed(0)} bytes per agent`);
  const rows = [...new Set([...ga.keys(), ...gb.keys()])].map((k) => {
    const x = ga.get(k) ?? { count: 0, size: 0 };
    const y = gb.get(k) ?? { count: 0, size: 0 };
    return { k, dSize: y.size - x.size, dCount: y.count - x.count };
  });
  console.log('bytes/agent  objects/agent  constructor');
  for (const r of rows.sort((x, y) => y.dSize - x.dSize).slice(0, top))
    console.log(`${(r.dSize / n).toFixed(0).padStart(10)} ${(r.dCount / n).toFixed(2).padStart(13)}  ${r.k}`);
}
