/**
 * What the agent remembers across its own restarts, in ROOT/state.json: for every instance, the
 * desired entry it runs, the ports it gave its processes, and each process's pid and start time
 * (so a new agent adopts them instead of restarting them, and never mistakes a reused pid).
 */
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { DesiredInstance } from '../api/index.js';
import type { ServerMemory } from './trust/trust.js';

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
  /** the server whose answers this agent applies, and its refusal if it refuses them (trust.ts) */
  server?: ServerMemory;
}

/** The agent's identity on its server, in ROOT/agent.json (mode 0600). */
export interface AgentIdentity {
  server: string;
  name: string;
  token: string;
  /** the server's release signing key, pinned at join (src/agent/trust/signing.ts) */
  signingKey?: import('../api/index.js').SigningKey;
}

/** Files the agent writes hold tokens and pids: its own user reads them, no one else. */
export const AGENT_FILE_MODE = 0o600;

/** A state.json that could not be read, moved aside. */
export interface CorruptState {
  /** where the unreadable file now is */
  aside: string;
  /** why it could not be read */
  error: string;
}

function emptyState(): AgentState {
  return { generation: 0, instances: {}, local: { processes: {} }, runtimesUsed: {} };
}

/**
 * Reads ROOT/state.json. A missing file is an empty state (a new host). An unreadable one is
 * never read as empty (the agent would start second copies of what runs): it is moved aside to
 * `state.json.corrupt-TIME` and reported in `corrupt`, and the caller rebuilds the state from
 * the processes it finds (rebuild.ts).
 */
export function readState(root: string, now = new Date()): { state: AgentState; corrupt?: CorruptState } {
  const file = join(root, 'state.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyState() };
    return { state: emptyState(), corrupt: moveAside(file, err as Error, now) };
  }
  try {
    const parsed = JSON.parse(text) as AgentState;
    if (
      parsed === null ||
      typeof parsed !== 'object' ||
      Array.isArray(parsed) ||
      (parsed.instances !== undefined && typeof parsed.instances !== 'object')
    ) {
      throw new Error('it is not a JSON object with instances');
    }
    return {
      state: {
        generation: parsed.generation ?? 0,
        instances: parsed.instances ?? {},
        local: parsed.local ?? { processes: {} },
        runtimesUsed: parsed.runtimesUsed ?? {},
        ...(parsed.server && { server: parsed.server }),
      },
    };
  } catch (err) {
    return { state: emptyState(), corrupt: moveAside(file, err as Error, now) };
  }
}

function moveAside(file: string, err: Error, now: Date): CorruptState {
  const aside = `${file}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
  renameSync(file, aside); // if even this fails, the agent must not start: it would run second copies
  return { aside, error: err.message };
}

/** Writes the state atomically and durably (writeFileDurable). */
export function saveState(root: string, state: AgentState): void {
  writeFileDurable(join(root, 'state.json'), JSON.stringify(state, null, 1));
}

export function loadIdentity(root: string): AgentIdentity | undefined {
  try {
    return JSON.parse(readFileSync(join(root, 'agent.json'), 'utf8')) as AgentIdentity;
  } catch {
    return undefined;
  }
}

export function saveIdentity(root: string, id: AgentIdentity): void {
  writeFileDurable(join(root, 'agent.json'), JSON.stringify(id, null, 1));
}

/**
 * Replaces `file` so that a crash at any moment leaves the old content or the new, never a
 * part: write a temp file beside it and fsync it, rename it over the file, fsync the folder
 * (the rename itself is durable only then). Mode 0600.
 *
 * @example writeFileDurable('/var/lib/noops/state.json', JSON.stringify(state))
 */
export function writeFileDurable(file: string, text: string, mode = AGENT_FILE_MODE): void {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', mode);
  try {
    fchmodSync(fd, mode); // a temp file left by a crash keeps its old mode otherwise
    writeFileSync(fd, text); // given a descriptor, it writes the whole text (writeSync may write part)
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
