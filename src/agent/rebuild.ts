/**
 * Rebuilding the agent's state from the processes that run, when state.json was unreadable:
 * without it the agent would forget what it runs and start second copies beside it.
 *
 * A process noops started carries its instance in its environment (specs.ts `instanceEnv`:
 * NOOPS_TAG, NOOPS_VERSION, NOOPS_PROCESS, NOOPS_RELEASE_DIR, PORT), runs in its release's
 * folder, and leads its own process group (the supervisor spawns it detached). A process is
 * taken as this agent's only when all of that holds and its release folder is under this
 * agent's root; its pid with its /proc start time name it, so a reused pid is never adopted.
 * The release (its manifest and sha256) is read from the folder the install left on disk.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { API_PREFIX, type DesiredInstance, replicaName, replicaOf } from '../api/index.js';
import type { ReleaseManifest } from '../release/index.js';
import { procStat, startTimeToEpochMs } from '../supervisor/index.js';
import { readMarker } from './install/release-dir.js';
import { instanceDirs } from './specs.js';
import type { AgentState, InstanceState } from './state.js';

/** A process as /proc shows it. */
export interface FoundProcess {
  pid: number;
  /** clock ticks since boot (/proc/PID/stat field 22) */
  startTime: number;
  /** its process group */
  pgrp: number;
  /** its working folder (/proc/PID/cwd), null when unreadable */
  cwd: string | null;
  env: Record<string, string>;
}

/** A release on disk, as the rebuild needs it. */
export interface ReleaseOnDisk {
  sha256: string;
  manifest: ReleaseManifest;
}

/**
 * Every process that carries NOOPS_PROCESS in its environment (instances' processes and the
 * host's standalone watches; others, and those whose /proc files this user may not read, are
 * skipped). Linux only: elsewhere it finds none.
 */
export function scanProcesses(proc = '/proc'): FoundProcess[] {
  let names: string[];
  try {
    names = readdirSync(proc);
  } catch {
    return [];
  }
  const out: FoundProcess[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const raw = readFileSync(join(proc, name, 'environ'), 'latin1');
      if (!raw.includes('NOOPS_PROCESS=')) continue;
      const env: Record<string, string> = {};
      for (const kv of Buffer.from(raw, 'latin1').toString('utf8').split('\0')) {
        const eq = kv.indexOf('=');
        if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const stat = procStat(pid);
      if (stat === null) continue;
      let cwd: string | null = null;
      try {
        cwd = readlinkSync(join(proc, name, 'cwd'));
      } catch {
        // another user's process: its cwd stays unknown, and the rebuild skips it
      }
      out.push({ pid, startTime: stat.startTime, pgrp: stat.pgrp, cwd, env });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

/** The release in `dir` as its install left it (the marker's sha256 and the manifest), or undefined. */
export function readReleaseOnDisk(dir: string): ReleaseOnDisk | undefined {
  const marker = readMarker(dir);
  if (marker === null) return undefined;
  try {
    return { sha256: marker.sha256, manifest: JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ReleaseManifest };
  } catch {
    return undefined;
  }
}

/**
 * The instances of `root` that the found processes run: for each, the release as on disk, the
 * pids and start times of its processes and cron runs, and their ports. `notes` collects what
 * was skipped and why.
 *
 * @example rebuildInstances('/var/lib/noops', scanProcesses(), readReleaseOnDisk, [])
 */
export function rebuildInstances(
  root: string,
  found: readonly FoundProcess[],
  readRelease: (dir: string) => ReleaseOnDisk | undefined,
  notes: string[],
): AgentState['instances'] {
  const instances: AgentState['instances'] = {};
  // Oldest first: when two processes claim one name (should not happen), the older one is kept.
  for (const p of [...found].sort((a, b) => a.startTime - b.startTime)) {
    const { NOOPS_TAG: tag, NOOPS_VERSION: version, NOOPS_PROCESS: base, NOOPS_RELEASE_DIR: dir } = p.env;
    if (!tag || !version || !base || !dir) continue;
    // a replica says which in NOOPS_REPLICA (its supervisor name is web@2); absent: the first
    const name = replicaName(base, Number(p.env.NOOPS_REPLICA ?? 1) || 1);
    if (p.pgrp !== p.pid) continue; // a child of a watched process: the leader is the watch
    const release = instanceDirs(root, { tag, version }).release;
    if (dir !== release) continue; // another agent's root
    if (p.cwd === null || !(p.cwd === release || p.cwd.startsWith(`${release}/`))) {
      notes.push(`pid ${p.pid} (${tag}/${name}) names this root but runs in ${p.cwd ?? 'an unreadable folder'}: not adopted`);
      continue;
    }
    let inst = instances[tag];
    if (inst !== undefined && inst.desired.version !== version) {
      notes.push(`pid ${p.pid} runs ${tag} ${version} beside ${inst.desired.version}: not adopted (stop it by hand)`);
      continue;
    }
    if (inst === undefined) {
      const onDisk = readRelease(release);
      if (onDisk === undefined) {
        notes.push(`pid ${p.pid} runs ${tag} ${version}, whose release folder is incomplete: not adopted`);
        continue;
      }
      inst = instances[tag] = { desired: desiredOf(tag, version, onDisk, p.env.NOOPS_DEPLOY_KIND), ports: {}, processes: {} };
    }
    placeProcess(inst, name, p, notes);
  }
  return instances;
}

function desiredOf(tag: string, version: string, onDisk: ReleaseOnDisk, kind: string | undefined): DesiredInstance {
  // The deployment and the runtimes' descriptions come with the server's next desired state;
  // the release (version and sha256) is what decides whether that state changes anything.
  return {
    tag,
    version,
    sha256: onDisk.sha256,
    url: `${API_PREFIX}/artifacts/${onDisk.sha256}`,
    manifest: onDisk.manifest,
    deploymentId: null,
    kind: kind === 'rollback' ? 'rollback' : 'deploy',
  };
}

function placeProcess(inst: InstanceState, name: string, p: FoundProcess, notes: string[]): void {
  const { manifest } = inst.desired;
  const { process: base, replica } = replicaOf(name);
  if (manifest.processes.some((s) => s.name === base)) {
    // a replica (web@2) was running: the instance had at least that many (the server's next answer says how many)
    if (replica > 1) inst.desired.replicas = Math.max(inst.desired.replicas ?? 1, replica);
    if (inst.processes[name] !== undefined) {
      notes.push(`pid ${p.pid} is a second ${inst.desired.tag}/${name}: not adopted (stop it by hand)`);
      return;
    }
    inst.processes[name] = { pid: p.pid, startTime: p.startTime, restarts: 0 };
    const port = Number(p.env.PORT);
    if (Number.isInteger(port) && port > 0) inst.ports[name] = port;
  } else if ((manifest.crons ?? []).some((c) => c.name === name)) {
    inst.crons ??= {};
    inst.crons[name] ??= { pid: p.pid, startTime: p.startTime, startedAt: startTimeToEpochMs(p.startTime) ?? Date.now() };
  }
}

/**
 * The standalone watches (the host's watches file, no NOOPS_TAG) among the found processes: a
 * process leading its group, named by NOOPS_PROCESS, running in the folder its watch names.
 */
export function rebuildLocal(
  found: readonly FoundProcess[],
  watches: readonly { name: string; dir: string }[],
): Record<string, { pid: number; startTime: number; restarts: number }> {
  const out: Record<string, { pid: number; startTime: number; restarts: number }> = {};
  for (const p of [...found].sort((a, b) => a.startTime - b.startTime)) {
    if (p.env.NOOPS_TAG !== undefined || p.pgrp !== p.pid) continue;
    const w = watches.find((x) => x.name === p.env.NOOPS_PROCESS);
    if (w === undefined || p.cwd !== w.dir || out[w.name] !== undefined) continue;
    out[w.name] = { pid: p.pid, startTime: p.startTime, restarts: 0 };
  }
  return out;
}
