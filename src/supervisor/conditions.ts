/**
 * god's conditions: checks run on an `up` process every `intervalMs`; one that fails `times` of
 * the last `of` checks fires, and a firing condition restarts the process (or, with action
 * `event`, is only recorded). This file holds their shapes and the pure parts: the N-of-M
 * judge and the words that describe a condition.
 */

/** What every condition has. */
export interface ConditionBase {
  /** ms between two checks */
  intervalMs: number;
  /** fires when `times` of the last `of` checks failed (god's `times = [3, 5]`) */
  times: number;
  of: number;
  /** `restart` the process when it fires, or only record an `event` */
  action: 'restart' | 'event';
}

/** Resident memory of the process group above a limit. */
export interface MemoryCondition extends ConditionBase {
  kind: 'memory';
  aboveBytes: number;
}

/** CPU use of the process group above a percentage of one core (200 = two cores busy). */
export interface CpuCondition extends ConditionBase {
  kind: 'cpu';
  abovePercent: number;
}

/**
 * An HTTP GET that fails: no answer within the timeout, or a status code that breaks the rule:
 * not one of `codeIs` when given, one of `codeIsNot` when given, else 400 or more.
 */
export interface HttpCondition extends ConditionBase {
  kind: 'http';
  url: string;
  codeIs?: number[];
  codeIsNot?: number[];
  timeoutMs: number;
}

/** A TCP connection that cannot be made within the timeout. */
export interface TcpCondition extends ConditionBase {
  kind: 'tcp';
  host: string;
  port: number;
  timeoutMs: number;
}

/** A shell command (in the process's folder and environment) that exits non-zero or times out. */
export interface CommandCondition extends ConditionBase {
  kind: 'command';
  command: string;
  timeoutMs: number;
}

export type ConditionSpec = MemoryCondition | CpuCondition | HttpCondition | TcpCondition | CommandCondition;

/** The condition kinds, as noops.yaml names them. */
export const CONDITION_KINDS = ['memory', 'cpu', 'http', 'tcp', 'command'] as const;

/** One check's outcome: failed or not, and what was seen ("rss 210 MiB", "HTTP 503"). */
export interface CheckResult {
  failed: boolean;
  observed: string;
}

/**
 * The last `of` outcomes, newest last, and whether they fire: `times` or more failures.
 *
 * @example judge([true, false], true, 2, 3) // { window: [true, false, true], fires: true }
 */
export function judge(window: readonly boolean[], failed: boolean, times: number, of: number): { window: boolean[]; fires: boolean } {
  const next = [...window, failed].slice(-of);
  return { window: next, fires: next.filter(Boolean).length >= times };
}

/** 1536 -> "1.5 KiB": sizes as people read them. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : Number(v.toFixed(1))} ${units[i]}`;
}

/**
 * What a condition watches, in words, for events and `status`.
 *
 * @example describeCondition({ kind: 'memory', aboveBytes: 104857600, times: 3, of: 5, ... })
 *   // 'memory above 100 MiB (3 of 5 checks)'
 */
export function describeCondition(c: ConditionSpec): string {
  const nOfM = c.times === c.of ? (c.times === 1 ? '' : ` (${c.times} checks in a row)`) : ` (${c.times} of ${c.of} checks)`;
  switch (c.kind) {
    case 'memory':
      return `memory above ${formatBytes(c.aboveBytes)}${nOfM}`;
    case 'cpu':
      return `cpu above ${c.abovePercent}%${nOfM}`;
    case 'http': {
      const rule = c.codeIs ? `code is ${c.codeIs.join('|')}` : c.codeIsNot ? `code is not ${c.codeIsNot.join('|')}` : 'code below 400';
      return `http ${c.url} (${rule})${nOfM}`;
    }
    case 'tcp':
      return `tcp ${c.host}:${c.port}${nOfM}`;
    case 'command':
      return `command \`${c.command}\`${nOfM}`;
  }
}
