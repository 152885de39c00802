/**
 * What the agent does to its host, behind two small surfaces: a process supervisor, and the
 * store of releases on disk. The agent uses the real ones (`Supervisor`, `diskReleases`); the
 * fleet benchmark injects simulated ones, so that thousands of agents in one process run the
 * real protocol and the real reconcile without thousands of real processes and disk installs.
 */
import type { Writable } from 'node:stream';
import type { PieceDest } from '../swarm/index.js';
import type { Supervisor, SupervisorEvents } from '../supervisor/index.js';
import type { InstallOptions } from './install/install.js';
import { pruneReleases } from './install/release-dir-prune.js';
import { ensureShared, switchCurrent } from './install/release-dir.js';

/**
 * The part of `Supervisor` the agent, its Host and `noops ctl` use; `Supervisor` is the real one,
 * the fleet benchmark's `SimSupervisor` a simulated one.
 */
export interface ProcessSupervisor
  extends Pick<
    Supervisor,
    | 'start'
    | 'hold'
    | 'adopt'
    | 'stop'
    | 'stopAll'
    | 'restart'
    | 'resume'
    | 'signal'
    | 'forget'
    | 'detach'
    | 'status'
    | 'list'
    | 'events'
    | 'spec'
  > {
  on<K extends keyof SupervisorEvents>(event: K, listener: (...args: SupervisorEvents[K]) => void): unknown;
}

/** What to install: `InstallOptions`, with a download that may also write into a stream or take pieces. */
export interface HostInstallOptions extends Omit<InstallOptions, 'download'> {
  /**
   * writes the package to a file that does not exist yet (in pieces at their offsets, or whole),
   * into a stream, or into a piece destination (pieces from peers: docs/packages-p2p.md)
   */
  download(dest: string | Writable | PieceDest): Promise<void>;
}

/** Where a host keeps its releases. */
export interface ReleaseStore {
  /** puts the release on the host, verified; `downloaded` is false when it was already there */
  install(opts: HostInstallOptions): Promise<{ downloaded: boolean }>;
  /** makes `version` the job's current release (its shared folders exist after this) */
  activate(root: string, tag: string, version: string): void;
  /** removes old releases of the job, keeping `keep` and every version in `protect` */
  prune(root: string, tag: string, keep: number, protect: string[]): Promise<unknown>;
  /**
   * Downloads package `sha256` into the host's cache, verified, installing nothing (a package
   * staged for the host's next batch: docs/packages-p2p.md); `install` then finds it there.
   */
  prefetch?(root: string, sha256: string, download: HostInstallOptions['download']): Promise<void>;
}

/** The real store: releases unpacked under ROOT/jobs/<tag>/releases, `current` switched atomically. */
export const diskReleases: ReleaseStore = {
  // The installer (and tar with it) is loaded by the first install: an agent that only runs what
  // it has never loads it.
  install: async (opts) => (await import('./install/install.js')).installRelease(opts),
  prefetch: async (root, sha256, download) => {
    await (await import('./install/install-package.js')).ensurePackage(root, sha256, (tmp) => download(tmp));
  },
  activate(root, tag, version) {
    ensureShared(root, tag);
    switchCurrent(root, tag, version);
  },
  prune: (root, tag, keep, protect) => pruneReleases(root, tag, keep, protect),
};
