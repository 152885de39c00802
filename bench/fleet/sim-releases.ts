/**
 * A simulated host's releases, kept in memory: the package is really downloaded from the server
 * (every byte, through the agent's own download) and its sha256 really checked, but it is not
 * unpacked to disk. Unpacking is work each real host does on its own CPU and disk, in parallel
 * with the others; in one benchmark process it would measure the benchmark machine, not noops.
 * What a release "on disk" means (a rollback needs no download) is kept exactly.
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { HostInstallOptions, ReleaseStore } from '../../src/agent/index.js';
import { NoopsError } from '../../src/errors/index.js';

/** What every simulated host of one process downloaded, summed. */
export interface DownloadMeter {
  bytes: number;
  downloads: number;
}

export class MemoryReleases implements ReleaseStore {
  /** per tag, installed versions in install order (oldest first), with their sha256 */
  readonly installed = new Map<string, Map<string, string>>();
  readonly current = new Map<string, string>();

  constructor(private readonly meter: DownloadMeter = { bytes: 0, downloads: 0 }) {}

  async install(opts: HostInstallOptions): Promise<{ downloaded: boolean }> {
    const versions = this.installed.get(opts.tag) ?? new Map<string, string>();
    if (versions.get(opts.version) === opts.sha256) return { downloaded: false };
    const hash = createHash('sha256');
    let size = 0;
    await opts.download(
      new Writable({
        write(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          size += chunk.length;
          done();
        },
      }),
    );
    this.meter.bytes += size;
    this.meter.downloads++;
    const actual = hash.digest('hex');
    if (actual !== opts.sha256) {
      throw new NoopsError('NOOPS_E_SHA256_MISMATCH', `the downloaded package has sha256 ${actual}, expected ${opts.sha256}`);
    }
    versions.delete(opts.version);
    versions.set(opts.version, opts.sha256);
    this.installed.set(opts.tag, versions);
    return { downloaded: true };
  }

  activate(_root: string, tag: string, version: string): void {
    if (!this.installed.get(tag)?.has(version)) {
      throw new NoopsError('NOOPS_E_NOT_FOUND', `release ${version} of ${tag} is not installed on this host`);
    }
    this.current.set(tag, version);
  }

  async prune(_root: string, tag: string, keep: number, protect: string[]): Promise<void> {
    const versions = this.installed.get(tag);
    if (!versions) return;
    const newestFirst = [...versions.keys()].reverse();
    for (const [i, v] of newestFirst.entries()) {
      if (i >= keep && !protect.includes(v) && v !== this.current.get(tag)) versions.delete(v);
    }
  }
}
