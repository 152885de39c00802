/**
 * A simulated host's releases, kept in memory: the package is really downloaded (every byte,
 * through the agent's own download: in pieces from peers and the server, or whole from the
 * server) and really checked, but it is not unpacked to disk. Unpacking is work each real host
 * does on its own CPU and disk, in parallel with the others; in one benchmark process it would
 * measure the benchmark machine, not noops. What a release "on disk" means (a rollback needs no
 * download) is kept exactly.
 *
 * Pieces: each agent checks every piece it receives against its digest (the agent's own code),
 * and serves the pieces it holds to its peers over HTTP. The bytes themselves are kept once per
 * worker process (`SharedPackages`): every agent's copy would be the same checked bytes, and
 * 1,000 copies of a 10 MB package do not fit this machine. For the same reason the whole
 * package's sha256 is computed once per worker, when the first agent completes it; a package
 * that came whole from the server is hashed per agent, as before. A piece is copied into that
 * buffer by the first agent of the worker that checked it; the others' copies of the same checked
 * bytes are skipped: a real host writes each piece to its own cache file as it downloads, on its
 * own CPU and disk, as it unpacks later (the copy was 16% of a worker's CPU at 100 MB to 100
 * hosts, every byte copied 50 times over; figures from 1723d4e on leave it out).
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { HostInstallOptions, ReleaseStore } from '../../src/agent/index.js';
import { NoopsError } from './agent-code.js';
import type { PieceDest, PieceStore } from '../../src/swarm/index.js';

/** What every simulated host of one process downloaded, summed. */
export interface DownloadMeter {
  bytes: number;
  downloads: number;
}

/** Packages kept per worker: the ones being deployed (a deploy and its rollback's target). */
const PACKAGES_KEPT = 3;

/** One package's bytes in a worker, as far as its agents wrote them. */
interface SharedPackage {
  bytes: Buffer;
  /** the ranges written so far: length by offset (pieces are written whole, at their own offsets) */
  written: Map<number, number>;
  sha256?: string;
}

/** The bytes of the packages the agents of one process fetch in pieces, once each. */
export class SharedPackages {
  private readonly held = new Map<string, SharedPackage>();

  /** The buffer of package `sha256` of `size` bytes (made empty on first use). */
  buffer(sha256: string, size: number): SharedPackage {
    let p = this.held.get(sha256);
    if (!p || p.bytes.length !== size) {
      p = { bytes: Buffer.alloc(size), written: new Map() };
      this.held.set(sha256, p);
      while (this.held.size > PACKAGES_KEPT) this.held.delete(this.held.keys().next().value!);
    }
    return p;
  }

  /** The sha256 of a complete package, computed once. */
  digest(sha256: string): string | undefined {
    const p = this.held.get(sha256);
    if (!p) return undefined;
    p.sha256 ??= createHash('sha256').update(p.bytes).digest('hex');
    return p.sha256;
  }
}

export class MemoryReleases implements ReleaseStore {
  /** per tag, installed versions in install order (oldest first), with their sha256 */
  readonly installed = new Map<string, Map<string, string>>();
  readonly current = new Map<string, string>();
  /** packages fetched ahead (`prefetch`) and not installed yet, as a real agent's cache holds them */
  private readonly cached = new Set<string>();

  constructor(
    private readonly meter: DownloadMeter = { bytes: 0, downloads: 0 },
    private readonly shared = new SharedPackages(),
  ) {}

  async install(opts: HostInstallOptions): Promise<{ downloaded: boolean }> {
    const versions = this.installed.get(opts.tag) ?? new Map<string, string>();
    if (versions.get(opts.version) === opts.sha256) return { downloaded: false };
    // a package fetched ahead of its batch is in this host's cache (a real agent's ROOT/cache)
    if (!this.cached.delete(opts.sha256)) await this.fetch(opts.sha256, opts.download);
    versions.delete(opts.version);
    versions.set(opts.version, opts.sha256);
    this.installed.set(opts.tag, versions);
    return { downloaded: true }; // now, or ahead of its batch
  }

  /** A package staged for this host's next batch: downloaded and checked now, installed later. */
  async prefetch(_root: string, sha256: string, download: HostInstallOptions['download']): Promise<void> {
    if (this.cached.has(sha256)) return;
    await this.fetch(sha256, download);
    this.cached.add(sha256);
    while (this.cached.size > PACKAGES_KEPT) this.cached.delete(this.cached.values().next().value!);
  }

  /** Downloads package `sha256` (every byte, as a real agent) and checks it; throws NOOPS_E_SHA256_MISMATCH when it is not. */
  private async fetch(sha256: string, download: HostInstallOptions['download']): Promise<void> {
    const hash = createHash('sha256');
    let size = 0;
    let inPieces = false;
    const shared = this.shared;
    const dest: PieceDest = {
      open: async (total): Promise<PieceStore> => {
        inPieces = true;
        const pkg = shared.buffer(sha256, total);
        return {
          writeAt: async (offset, data) => {
            // the same piece another agent of this worker wrote: checked against the same digest, the same bytes
            if (pkg.written.get(offset) !== data.length) {
              data.copy(pkg.bytes, offset);
              pkg.written.set(offset, data.length);
            }
            size += data.length;
          },
          readAt: async (offset, length) => pkg.bytes.subarray(offset, offset + length),
          close: async () => undefined,
        };
      },
      stream: () =>
        new Writable({
          write(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            size += chunk.length;
            done();
          },
        }),
    };
    await download(dest);
    this.meter.bytes += size;
    this.meter.downloads++;
    const actual = inPieces ? shared.digest(sha256) : hash.digest('hex');
    if (actual !== sha256) {
      throw new NoopsError('NOOPS_E_SHA256_MISMATCH', `the downloaded package has sha256 ${actual}, expected ${sha256}`);
    }
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
