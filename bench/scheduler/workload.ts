/**
 * The simulated fleet and clusters of the scheduler benchmark, deterministic from a seed: hosts
 * of three sizes with `rack` and `zone` labels, clusters with mixed cpu and memory asks, some with
 * constraints (`rack!=`, `zone=`), distinct hosts, a fixed port, or spread over racks.
 */
import type { PlaceAsk, SchedHost } from '../../src/schedule/index.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** Host sizes, in turn: cores and memory. */
const SIZES = [
  { cpu: 64, memory: 128 * GiB },
  { cpu: 128, memory: 256 * GiB },
  { cpu: 192, memory: 512 * GiB },
] as const;
const CPU_ASKS = [0.05, 0.1, 0.25, 0.5] as const;
const MEMORY_ASKS = [64 * MiB, 128 * MiB, 256 * MiB, 512 * MiB, GiB] as const;

/** Hosts per rack, racks per zone. */
export const RACK_SIZE = 40;
export const ZONES = 2;

/** A small, fast, seeded generator (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` empty hosts, up, of the three sizes in turn, labelled with a rack and a zone. */
export function makeHosts(n: number): SchedHost[] {
  const hosts: SchedHost[] = [];
  const racks = Math.max(1, Math.ceil(n / RACK_SIZE));
  for (let i = 0; i < n; i++) {
    const size = SIZES[i % SIZES.length]!;
    const rack = i % racks;
    hosts.push({
      name: `h${String(i).padStart(5, '0')}`,
      labels: { rack: `r${rack}`, zone: `z${rack % ZONES}` },
      capacity: { cpu: size.cpu, memory: size.memory, disk: 0 },
      allocated: { cpu: 0, memory: 0, disk: 0 },
      up: true,
      draining: false,
      ports: [],
      jobs: [],
    });
  }
  return hosts;
}

/** What kind of ask a cluster is, for the figures. */
export type AskKind = 'binpack' | 'rack!=' | 'zone=' | 'distinct' | 'port' | 'spread';

/**
 * `clusters` asks of `count` instances each (or a count drawn between 1 and `count` when `mixed`):
 * 70 % plain bin-packing, 8 % `rack!=`, 5 % `zone=` (a zone holds half the hosts), 5 % distinct hosts (two clusters per job), 2 % a fixed port, 10 % spread over racks.
 */
export function makeAsks(clusters: number, count: number, hosts: number, seed: number, mixed = false): { ask: PlaceAsk; kind: AskKind }[] {
  const rand = random(seed);
  const racks = Math.max(1, Math.ceil(hosts / RACK_SIZE));
  const out: { ask: PlaceAsk; kind: AskKind }[] = [];
  for (let c = 0; c < clusters; c++) {
    const roll = rand();
    const kind: AskKind =
      roll < 0.7 ? 'binpack' : roll < 0.78 ? 'rack!=' : roll < 0.83 ? 'zone=' : roll < 0.88 ? 'distinct' : roll < 0.9 ? 'port' : 'spread';
    const n = mixed ? 1 + Math.floor(rand() * count) : count;
    const job = `j${Math.floor(c / 2)}`;
    out.push({
      kind,
      ask: {
        tag: `${job}.c${c}`,
        job,
        spec: {
          count: n,
          cpu: CPU_ASKS[Math.floor(rand() * CPU_ASKS.length)]!,
          memory: MEMORY_ASKS[Math.floor(rand() * MEMORY_ASKS.length)]!,
          constraints:
            kind === 'rack!='
              ? [{ label: 'rack', op: '!=', value: `r${Math.floor(rand() * racks)}` }]
              : kind === 'zone='
                ? [{ label: 'zone', op: '=', value: `z${Math.floor(rand() * ZONES)}` }]
                : [],
          distinctHosts: kind === 'distinct',
          spread: kind === 'spread' ? 'rack' : null,
        },
        ports: kind === 'port' ? [9000 + c] : [],
        current: [],
      },
    });
  }
  return out;
}
