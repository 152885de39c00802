/**
 * What the agent remembers across its own restarts, in ROOT/state.json: for every instance, the
 * desired entry it runs, the ports it gave its processes, and each process's pid and start time
 * (so a new agent adopts them instead of restarting them, and never mistakes a reused pid).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DesiredInstance } from '../api/types.js';

export interface InstanceState {
  desired: DesiredInstance;
  /** port per process name, kept across releases so a restart keeps the address */
  ports: Record<string, number>;
  /** pid and /proc start time per process name, of what runs now */
  processes: Record<string, { pid: number; startTime: number; restarts: number }>;
  /** whether installing this release downloaded its package (false: it was on disk) */
  downloaded?: boolean;
}

export interface AgentState {
  /** the desired-state generation last applied */
  generation: number;
  instances: Record<string, InstanceState>;
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
    return { generation: parsed.generation ?? 0, instances: parsed.instances ?? {} };
  } catch {
    return { generation: 0, instances: {} };
  }
}

/** Writes the state atomically (write a temp file, then rename over the old one). */
export function saveState(root: string, state: AgentState): void {
  const tmp = join(root, `.state.json.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(state, null, 1));
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
