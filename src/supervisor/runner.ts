/**
 * The seam between the supervisor and how a process runs: a spawned process group (spawn.ts,
 * the default) or a container (a `ContainerRunner`, given by whoever owns an engine: the agent's
 * containers/). The supervisor's policies (restart, backoff, flapping, conditions, logs) are the
 * same for both; only start, stop, signal, death and adoption go through here.
 */
import type { RunAs } from './user.js';
import type { WatchSpec } from './types.js';

/** Limits the engine enforces on a container. */
export interface ContainerResources {
  /** cores (0.5 = half of one) */
  cpu?: number;
  /** bytes */
  memory?: number;
  /** processes and threads */
  pids?: number;
}

/**
 * What a container needs beyond the WatchSpec (plain data, persisted with the spec): the spec's
 * command, cwd, env and user are used as they are.
 */
export interface ContainerSpec {
  /** a local image; undefined: the host's base image */
  image?: string;
  /** host folders mounted at the same path (the release, runtimes: read-only) */
  mounts: { source: string; target: string; readOnly: boolean }[];
  /** the engine's named volumes (created when missing) and where they are mounted */
  volumes: { name: string; path: string }[];
  resources?: ContainerResources;
  /** the labels that name it (noops.owned, tag, process, version, host) */
  labels: Record<string, string>;
  /** the instance's state folder on the host (the log mark of what was read of its output); absent: beside its logs */
  stateDir?: string;
}

/** How a container ended. */
export interface ContainerExit {
  /** its exit status, when known */
  code: number | null;
  /** the engine killed it for memory */
  oom: boolean;
  /** in words: `exited with code 1`, `killed for memory (oom) ...` */
  reason: string;
}

/** One running container, as the supervisor holds it. */
export interface ContainerHandle {
  id: string;
  /** the host pid of its main process (for /proc usage), null when not visible */
  pid: number | null;
  /** its address on its network (what health checks and conditions probe) */
  address: string | null;
  /** ms since the epoch when it started */
  startedAt: number;
  /** resolves once, when it ended (by itself or stopped); never rejects */
  exited: Promise<ContainerExit>;
  /** sends a signal to its main process */
  signal(signal: NodeJS.Signals): Promise<void>;
  /**
   * the stop command run inside it (the spec's `stopCommand`) or else the stop signal, the
   * engine's kill after `timeoutMs`, then removal; resolves with the reason in words
   */
  stop(signal: NodeJS.Signals, timeoutMs: number): Promise<string>;
  /** stops following it (logs, death) without stopping it: an agent that exits for an upgrade */
  release(): void;
}

/** Starts and finds containers for the supervisor. */
export interface ContainerRunner {
  /** creates and starts a container for `spec` (its `container` part set), logging into the spec's log files */
  start(spec: WatchSpec & { container: ContainerSpec }, runAs: RunAs | undefined): Promise<ContainerHandle>;
  /** the running container a previous agent started for `spec` (matched by its labels), or null */
  adopt(spec: WatchSpec & { container: ContainerSpec }): Promise<ContainerHandle | null>;
}

/**
 * Points conditions that check "the process's own port" on the loopback at a container's
 * address instead (its port is on its own address, not the host's).
 */
export function retargetLoopback<T extends { kind: string }>(conditions: readonly T[], address: string | null): T[] {
  if (address === null) return [...conditions];
  return conditions.map((c) => {
    const any = c as T & { url?: string; host?: string };
    if (c.kind === 'http' && any.url?.startsWith('http://127.0.0.1:')) return { ...c, url: any.url.replace('127.0.0.1', address) };
    if (c.kind === 'tcp' && any.host === '127.0.0.1') return { ...c, host: address };
    return c;
  });
}
