/**
 * The one parser of what people type about the scheduler (issue 18): a scheduled cluster's spec
 * (`noops cluster set --count 6 --cpu 0.5 --memory 256M --constraint rack!=r3 --distinct-hosts
 * --spread rack`, the same keys in the body of `PUT /clusters` and in a cluster.conf job section),
 * sizes (`256M`, `8G`, `1.5T`), and an agent's `--capacity cpu=4,memory=8G,disk=100G`. Pure: the
 * CLI, the server's routes and the cluster.conf parser all call it, so each says the same thing.
 *
 * @example
 *   parseScheduleSpec({ count: 6, cpu: '0.5', memory: '256M', constraints: ['rack!=r3'], spread: 'rack' })
 *   // { count: 6, cpu: 0.5, memory: 268435456, constraints: [{ label: 'rack', op: '!=', value: 'r3' }],
 *   //   distinctHosts: false, spread: 'rack' }
 *   parseSize('1.5G') // 1610612736
 *   formatSize(268435456) // '256M'
 */
import { NoopsError } from '../errors/index.js';
import type { HostCapacity, ScheduleConstraint, ScheduleSpec } from './schedule-types.js';

/** Each size unit, in bytes: powers of 1024, as `--memory 256M` means 256 MiB. */
const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4, P: 1024 ** 5 };
/** The largest size taken: 16 EiB is far past any host, and stays an exact number below 2^63. */
const MAX_SIZE = 2 ** 53;
/** The most instances one cluster asks for. */
export const MAX_SCHEDULE_COUNT = 1_000_000;
/** The most cores one instance asks for, or one host offers. */
const MAX_CPU = 100_000;
/** A host label's key, as an agent may join with it (`--label rack=r1`). */
const LABEL_KEY = /^[a-zA-Z0-9_./-]{1,63}$/;
/** The most constraints on one cluster. */
const MAX_CONSTRAINTS = 32;

/** What a size looks like, for the messages. */
export const SIZE_EXAMPLES = 'bytes, or a number with K, M, G or T (powers of 1024), e.g. 256M, 8G, 1.5G';

/**
 * A size in bytes from `256M`, `8G`, `1.5G`, `100G`, `1T`, `512K`, `4096` (bytes); the unit may
 * carry `B`, `iB` (`256MiB`) and be lower case. A number is taken as bytes. Undefined for
 * anything else (negative, not a number, an unknown unit, past 2^53).
 */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 && value <= MAX_SIZE ? Math.round(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(value.trim());
  if (!m || (m[2] === '' && m[3] !== undefined && m[3].toLowerCase() !== 'b')) return undefined;
  const n = Math.round(Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]!);
  return n <= MAX_SIZE ? n : undefined;
}

/**
 * Bytes as people write them, in the largest unit that keeps the number at least 1, with at most
 * one decimal: `256M`, `8G`, `1.5G`, `100G`, `512` (bytes). `parseSize` reads every answer back
 * (to the nearest tenth of its unit).
 */
export function formatSize(bytes: number): string {
  const units = ['', 'K', 'M', 'G', 'T', 'P'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(v) : Number(v.toFixed(1))}${units[i]}`;
}

/** What `parseScheduleSpec` takes: numbers or the text people typed, from flags, a body or a file. */
export interface ScheduleInput {
  /** instances (a whole number, 0 or more); required */
  count: unknown;
  /** cores each instance is given (0.5 is half a core); default 0: asks nothing */
  cpu?: unknown;
  /** bytes, or a size with a unit (`256M`); default 0: asks nothing */
  memory?: unknown;
  /** `label=value` / `label!=value` texts, or constraints as objects; one text or a list */
  constraints?: unknown;
  distinctHosts?: unknown;
  /** a host label to spread over; null or absent: bin-pack */
  spread?: unknown;
  /** bin-pack (the default), said outright: not with `spread` */
  binpack?: unknown;
}

/** The input's key a problem is about (a cluster.conf maps it to its own key and line). */
export type ScheduleInputKey = keyof ScheduleInput;

/** A spec, or what is wrong with it and which key. */
export type ScheduleSpecCheck = { ok: true; spec: ScheduleSpec } | { ok: false; key: ScheduleInputKey; message: string };

/**
 * Checks a scheduled cluster's spec without throwing: the spec, or the first key that is wrong
 * and why (for the cluster.conf parser, which names the line).
 */
export function checkScheduleSpec(input: ScheduleInput): ScheduleSpecCheck {
  const bad = (key: ScheduleInputKey, message: string): ScheduleSpecCheck => ({ ok: false, key, message });
  const count = wholeNumber(input.count);
  if (input.count === undefined || input.count === null) return bad('count', 'give a count of instances (0 or more)');
  if (count === undefined || count > MAX_SCHEDULE_COUNT)
    return bad('count', `"${String(input.count)}" is not a whole number of instances from 0 to ${MAX_SCHEDULE_COUNT}`);
  const cpu = input.cpu === undefined || input.cpu === null ? 0 : cores(input.cpu);
  if (cpu === undefined) return bad('cpu', `"${String(input.cpu)}" is not a number of cores (0 or more, e.g. 0.5 or 2)`);
  const memory = input.memory === undefined || input.memory === null ? 0 : parseSize(input.memory);
  if (memory === undefined) return bad('memory', `"${String(input.memory)}" is not a size: ${SIZE_EXAMPLES}`);
  const constraints: ScheduleConstraint[] = [];
  const given = input.constraints === undefined || input.constraints === null ? [] : [input.constraints].flat();
  if (given.length > MAX_CONSTRAINTS) return bad('constraints', `at most ${MAX_CONSTRAINTS} constraints`);
  for (const c of given) {
    const parsed = typeof c === 'string' ? parseConstraint(c) : constraintObject(c);
    if (typeof parsed === 'string') return bad('constraints', parsed);
    if (!constraints.some((k) => k.label === parsed.label && k.op === parsed.op && k.value === parsed.value)) constraints.push(parsed);
  }
  const distinctHosts = input.distinctHosts ?? false;
  if (typeof distinctHosts !== 'boolean') return bad('distinctHosts', 'distinct hosts is true or false');
  const binpack = input.binpack ?? false;
  if (typeof binpack !== 'boolean') return bad('binpack', 'binpack is true or false');
  const spread = input.spread ?? null;
  if (spread !== null && (typeof spread !== 'string' || !LABEL_KEY.test(spread)))
    return bad('spread', `"${String(spread)}" is not a host label (letters, digits, "_", ".", "/" and "-")`);
  if (spread !== null && binpack) return bad('spread', `spread over ${spread} or bin-pack: give one, not both`);
  return { ok: true, spec: { count, cpu, memory, constraints, distinctHosts, spread } };
}

/**
 * A scheduled cluster's spec from flags, a route's body or a file's keys.
 *
 * @param what the command or route, for the message (`cluster set`)
 * @throws NoopsError NOOPS_E_INPUT naming the key and what it takes
 */
export function parseScheduleSpec(input: ScheduleInput, what = 'schedule'): ScheduleSpec {
  const r = checkScheduleSpec(input);
  if (r.ok) return r.spec;
  throw new NoopsError('NOOPS_E_INPUT', `${what}: ${FLAG_OF[r.key]}: ${r.message}`, { hint: SPEC_HINT });
}

/** How the CLI names each key (the route's body and the messages say the same). */
const FLAG_OF: Record<ScheduleInputKey, string> = {
  count: '--count',
  cpu: '--cpu',
  memory: '--memory',
  constraints: '--constraint',
  distinctHosts: '--distinct-hosts',
  spread: '--spread',
  binpack: '--binpack',
};

/** What a scheduled cluster's keys take. */
export const SPEC_HINT =
  'a scheduled cluster is --count N [--cpu CORES] [--memory SIZE] [--constraint LABEL=VALUE | LABEL!=VALUE]... [--distinct-hosts] [--spread LABEL | --binpack], e.g. --count 6 --cpu 0.5 --memory 256M --constraint rack!=r3';

/** `rack!=r3`, `zone=a`: a constraint, or why not. */
export function parseConstraint(text: string): ScheduleConstraint | string {
  const m = /^([^=!\s]+)\s*(!=|=)\s*(.+)$/.exec(text.trim());
  if (!m) return `"${text}" is not a constraint: LABEL=VALUE or LABEL!=VALUE, e.g. rack!=r3`;
  return constraintObject({ label: m[1], op: m[2], value: m[3]!.trim() });
}

/** `rack!=r3`: a constraint as people write it. */
export function formatConstraint(c: ScheduleConstraint): string {
  return `${c.label}${c.op}${c.value}`;
}

function constraintObject(c: unknown): ScheduleConstraint | string {
  const o = (c ?? {}) as Record<string, unknown>;
  if (typeof o.label !== 'string' || !LABEL_KEY.test(o.label))
    return `"${String(o.label)}" is not a host label (letters, digits, "_", ".", "/" and "-")`;
  if (o.op !== '=' && o.op !== '!=') return `a constraint's op is "=" or "!=", not "${String(o.op)}"`;
  if (typeof o.value !== 'string' || o.value === '' || o.value.length > 256)
    return `constraint ${o.label}${o.op}: give a value (at most 256 characters)`;
  return { label: o.label, op: o.op, value: o.value };
}

function wholeNumber(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v.trim()) ? Number(v) : Number.NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function cores(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : Number.NaN;
  return Number.isFinite(n) && n >= 0 && n <= MAX_CPU ? n : undefined;
}

/** What `--capacity` may set: each overrides what the agent measured. */
export type CapacityOverride = Partial<HostCapacity>;

/** The keys of `--capacity`, and the field each sets. */
const CAPACITY_KEYS: Record<string, keyof HostCapacity> = { cpu: 'cpu', memory: 'memory', disk: 'disk', ports: 'freePorts' };

/**
 * `cpu=4,memory=8G,disk=100G,ports=500`: what a host offers instead of what its agent measured
 * (for a host shared with other work). Each key once; cores as a number, sizes as `parseSize`
 * reads them, ports a whole number.
 *
 * @throws NoopsError NOOPS_E_INPUT naming the bad part
 */
export function parseCapacityOverride(text: string): CapacityOverride {
  const out: CapacityOverride = {};
  const fail = (why: string): never => {
    throw new NoopsError('NOOPS_E_INPUT', `--capacity ${text}: ${why}`, {
      hint: `give KEY=VALUE pairs joined by ",": cpu=CORES, memory=SIZE, disk=SIZE, ports=COUNT, e.g. --capacity cpu=4,memory=8G,disk=100G (sizes: ${SIZE_EXAMPLES})`,
    });
  };
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) fail('name at least one of cpu, memory, disk, ports');
  for (const part of parts) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq).trim();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim();
    const field = Object.hasOwn(CAPACITY_KEYS, key) ? CAPACITY_KEYS[key]! : fail(`unknown key "${key}" (cpu, memory, disk or ports)`);
    if (eq < 0 || value === '') fail(`${key} has no value`);
    if (out[field] !== undefined) fail(`${key} is given twice`);
    const n = field === 'cpu' ? cores(value) : field === 'freePorts' ? wholeNumber(value) : parseSize(value);
    if (n === undefined)
      fail(
        field === 'cpu'
          ? `cpu=${value} is not a number of cores`
          : field === 'freePorts'
            ? `ports=${value} is not a whole number`
            : `${key}=${value} is not a size`,
      );
    out[field] = n;
  }
  return out;
}
