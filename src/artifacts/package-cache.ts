/**
 * The packages being deployed, held in memory while they are wanted. A deploy sends one package
 * to every host of a cluster within seconds; reading it from disk once per host cost the server
 * as much CPU as sending it (64 KB reads, a fresh buffer for each, and the garbage collector
 * behind them). From memory, every response is the same buffer handed to the socket.
 *
 * A named second entry of `artifacts/`, used by the server's package downloads (GET /api/v1/artifacts/SHA256).
 */
import { readFile } from 'node:fs/promises';
import type { ArtifactStore } from './store.js';

/** Memory for packages: a few releases of a large service (100 MB each) at once. */
export const PACKAGE_CACHE_BYTES = 512 * 1024 * 1024;

/**
 * Packages' bytes by sha256, in memory up to `maxBytes`, the least recently used dropped first.
 *
 * @example
 *   const packages = new PackageCache(artifacts);
 *   const bytes = await packages.get(sha256); // undefined: too large, stream it from disk
 */
export class PackageCache {
  /** most recently used last */
  private readonly held = new Map<string, Buffer>();
  private readonly loading = new Map<string, Promise<Buffer | undefined>>();
  private bytes = 0;

  constructor(
    private readonly store: ArtifactStore,
    readonly maxBytes = PACKAGE_CACHE_BYTES,
  ) {}

  /**
   * The package's bytes, from memory (read once on first use); undefined when it is larger than
   * half the cache (stream it from disk instead). Throws the store's errors (e.g. not found).
   */
  async get(sha256: string): Promise<Buffer | undefined> {
    const hit = this.held.get(sha256);
    if (hit) {
      this.held.delete(sha256);
      this.held.set(sha256, hit);
      return hit;
    }
    let pending = this.loading.get(sha256);
    if (!pending) {
      pending = this.load(sha256).finally(() => this.loading.delete(sha256));
      this.loading.set(sha256, pending);
    }
    return pending;
  }

  /** How many bytes are held. */
  get size(): number {
    return this.bytes;
  }

  private async load(sha256: string): Promise<Buffer | undefined> {
    if ((await this.store.size(sha256)) > this.maxBytes / 2) return undefined;
    const buf = await readFile(this.store.path(sha256));
    for (const [key, old] of this.held) {
      if (this.bytes + buf.length <= this.maxBytes) break;
      this.held.delete(key); // responses still sending it keep their reference
      this.bytes -= old.length;
    }
    this.held.set(sha256, buf);
    this.bytes += buf.length;
    return buf;
  }
}
