/**
 * What the agent remembers across its own restarts, in ROOT/state.json: for every instance, the
 * desired entry it runs, the ports it gave its processes, and each process's pid and start time
 * (so a new agent adopts them instead of restarting them, and never mistakes a reused pid).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DesiredInstance } from '../api/types.js';

/** A running process, as a new agent needs it to adopt it. */
export interface ProcessRecord {
  pid: number;
  startTime: number;
  restarts: number;
}

/** A cron run in progress, so that a new agent does not start a second one beside it. */
export interface CronRunRecord {
  pid: number;
  startTime: number;
  startedAt: number;
}

/** What runs for one set of watches (an instance, or the host's standalone watches). */
export interface WatchesState {
  /** pid and /proc start time per process name, of what runs now */
  processes: Record<string, ProcessRecord>;
  /** cron runs in progress, by cron name */
  crons?: Record<string, CronRunRecord>;
  /** processes stopped by `noops ctl stop`: an agent restart leaves them stopped */
  held?: string[];
}

export interface InstanceState extends WatchesState {
  desired: DesiredInstance;
  /** port per process name, kept across releases so a restart keeps the address */
  ports: Record<string, number>;
  /** whether installing this release downloaded its package (false: it was on disk) */
  downloaded?: boolean;
}

export interface AgentState {
  /** the desired-state generation last applied */
  generation: number;
  instances: Record<string, InstanceState>;
  /** the standalone watches of the host's watches file */
  local?: WatchesState;
  /** when each runtime (`name@version`) was last used by an instance, ms since the epoch */
  runtimesUsed?: Record<string, number>;
}

/** The agent's identity on its server, in ROOT/agent.json (mode 0600). */
export interface AgentIdentity {
  server: string;
  name: string;
  token: string;
}

export function loadState(root: string): AgentState {
  try {
    const parsed = JSON.parse(readFileSync(join(root, 'state.json'), 'utf8')) as AgentState;
    return {
      generation: parsed.generation ?? 0, instances: parsed.instances ?? {}, local: parsed.local ?? { processes: {} },
      runtimesUsed: parsed.runtimesUsed ?? {},
    };
  } catch {
    return { generation: 0, instances: {}, local: { processes: {} }, runtimesUsed: {} };
  }
}

/** Writes the state atomically (write a temp file, then rename over the old one). */
export function saveState(root: string, state: AgentState): void {
  const tmp = join(root, `.state.json.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(state, null, 1), { mode: 0o600 }); // root-only: processes run as other users
  renameSync(tmp, join(root, 'state.json'));
}

export function loadIdentity(root: string): AgentIdentity | undefined {
  try {
    return JSON.parse(readFileSync(join(root, 'agent.json'), 'utf8')) as AgentIdentity;
  } catch {
    return undefined;
  }
}

export function saveIdentity(root: string, id: AgentIdentity): void {
  const tmp = join(root, `.agent.json.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(id, null, 1), { mode: 0o600 });
  renameSync(tmp, join(root, 'agent.json'));
}
