/**
 * A scheduled cluster's flags (issue 18), for `noops cluster set`: `--count 6 --cpu 0.5 --memory
 * 256M [--constraint rack!=r3]... [--distinct-hosts] [--spread rack | --binpack]`, checked here by
 * api's `parseScheduleSpec` (the server checks them again), and how a spec and a host's resources read.
 */
import type { Command } from 'commander';
import {
  formatConstraint,
  formatSize,
  parseScheduleSpec,
  SPEC_HINT,
  type HostResources,
  type HostView,
  type ScheduleSpec,
} from '../../api/index.js';
import { NoopsError } from '../../errors/index.js';

/** The flags as commander gives them. */
export interface ScheduleFlags {
  count?: string;
  cpu?: string;
  memory?: string;
  constraint?: string[];
  distinctHosts?: boolean;
  spread?: string;
  binpack?: boolean;
}

/** Adds the scheduling flags to a command. */
export function withScheduleFlags(cmd: Command): Command {
  return cmd
    .option('--count <n>', 'a count instead of hosts: the scheduler places this many instances (0 or more; one per host)')
    .option('--cpu <cores>', 'with --count: cores each instance is given, e.g. 0.5 (default 0: asks nothing)')
    .option('--memory <size>', 'with --count: memory each instance is given, e.g. 256M, 1.5G (default 0: asks nothing)')
    .option(
      '--constraint <label=value|label!=value>',
      'with --count: only hosts whose label matches, e.g. rack!=r3 (repeat for more)',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option('--distinct-hosts', 'with --count: no host runs another cluster of the same job as well')
    .option('--spread <label>', 'with --count: spread the instances over the values of this host label')
    .option('--binpack', 'with --count: fill the fullest hosts first (the default)');
}

/**
 * The spec the flags give, or undefined without `--count`. `--hosts` with `--count`, or a
 * scheduling flag without `--count`: NOOPS_E_INPUT.
 */
export function scheduleOf(o: ScheduleFlags & { hosts?: string }): ScheduleSpec | undefined {
  const others = (
    [
      ['--cpu', o.cpu],
      ['--memory', o.memory],
      ['--constraint', o.constraint],
      ['--distinct-hosts', o.distinctHosts],
      ['--spread', o.spread],
      ['--binpack', o.binpack],
    ] as const
  ).filter(([, v]) => v !== undefined);
  if (o.count === undefined) {
    if (others.length === 0) return undefined;
    throw new NoopsError('NOOPS_E_INPUT', `cluster set: ${others[0]![0]} places a scheduled cluster: give --count N with it`, {
      hint: SPEC_HINT,
    });
  }
  if (o.hosts !== undefined) {
    throw new NoopsError('NOOPS_E_INPUT', 'cluster set: give --hosts or --count, not both', {
      hint: 'a cluster has either hosts named by hand (--hosts h1,h2) or a count the scheduler places (--count N; the hosts it has are its first placements)',
    });
  }
  return parseScheduleSpec(
    {
      count: o.count,
      cpu: o.cpu,
      memory: o.memory,
      constraints: o.constraint,
      distinctHosts: o.distinctHosts,
      spread: o.spread,
      binpack: o.binpack,
    },
    'cluster set',
  );
}

/** `count 6, cpu 0.5, memory 256M, constraint rack!=r3, distinct hosts, spread over rack`. */
export function describeSchedule(s: ScheduleSpec): string {
  return [
    `count ${s.count}`,
    ...(s.cpu > 0 ? [`cpu ${s.cpu}`] : []),
    ...(s.memory > 0 ? [`memory ${formatSize(s.memory)}`] : []),
    ...s.constraints.map((c) => `constraint ${formatConstraint(c)}`),
    ...(s.distinctHosts ? ['distinct hosts'] : []),
    s.spread === null ? 'binpack' : `spread over ${s.spread}`,
  ].join(', ');
}

/** `1.5/4` cores, `2G/8G` memory: allocated over offered ('-' before the host reported its capacity). */
export function usedOfOffered(h: Pick<HostView, 'capacity' | 'allocated'>, what: keyof HostResources): string {
  if (!h.capacity) return '-';
  const used = h.allocated?.[what] ?? 0;
  const fmt = what === 'cpu' ? (n: number) => String(Number(n.toFixed(2))) : formatSize;
  return `${fmt(used)}/${fmt(h.capacity[what])}`;
}
