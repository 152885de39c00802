/** Test kit: hosts and asks in one line each (the scheduler's tests, the loop's and the benchmark's). */
import type { ScheduleSpec } from '../api/index.js';
import type { PlaceAsk, SchedHost } from './types.js';

/** Bytes in a mebibyte and a gibibyte. */
export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

/** A host that is up, not draining, with 4 cores and 8G unless told otherwise. */
export function schedHost(name: string, over: Partial<Omit<SchedHost, 'name'>> = {}): SchedHost {
  return {
    name,
    labels: {},
    capacity: { cpu: 4, memory: 8 * GiB, disk: 100 * GiB },
    allocated: { cpu: 0, memory: 0, disk: 0 },
    up: true,
    draining: false,
    ports: [],
    jobs: [],
    ...over,
  };
}

/** An ask for `count` instances of 1 core and 1G, bin-packed, unless told otherwise. */
export function placeAsk(tag: string, spec: Partial<ScheduleSpec> = {}, over: Partial<Omit<PlaceAsk, 'tag' | 'spec'>> = {}): PlaceAsk {
  return {
    tag,
    job: tag.split('.')[0]!,
    spec: { count: 1, cpu: 1, memory: GiB, constraints: [], distinctHosts: false, spread: null, ...spec },
    ports: [],
    current: [],
    ...over,
  };
}
