/**
 * Where the artifacts of several servers meet. Each server keeps its packages in its own data
 * folder (`ArtifactStore`); with several servers on one PostgreSQL, what one stored must be
 * served by all. The store hands every artifact it stores to a `SharedArtifacts` and, when one is
 * missing from its folder, fetches it from there (verified by sha256 before it is kept).
 *
 * The server wires the database's side (store/package-blobs.ts); `artifacts/` knows only this
 * port, so it never loads a database driver.
 */
import { Readable } from 'node:stream';

/** What a store shares: an artifact's name and size. */
export interface SharedArtifact {
  sha256: string;
  size: number;
}

/**
 * Artifacts every server can read: written once, whole, and never changed after.
 *
 * @example
 *   const store = new ArtifactStore('/var/lib/noops/artifacts', shared);
 *   await store.has(sha256); // fetched from `shared` on a miss
 */
export interface SharedArtifacts {
  /**
   * Keeps a copy of an artifact where every server can read it, streaming `content` (read only if
   * the copy is not there yet). Resolves once the whole copy is readable; a reader never sees part
   * of it. Answers false when it was there already.
   */
  share(artifact: SharedArtifact, content: () => Readable): Promise<boolean>;
  /** The shared copy's content as a stream, or undefined when no server shared it. */
  fetch(sha256: string): Promise<Readable | undefined>;
}

/**
 * Shared artifacts in memory, for tests: what `share` kept, and how often `fetch` was asked.
 *
 * @example
 *   const shared = new MemorySharedArtifacts();
 *   const a = new ArtifactStore(dirA, shared), b = new ArtifactStore(dirB, shared);
 */
export class MemorySharedArtifacts implements SharedArtifacts {
  /** the copies, by sha256 (a test may replace one to play a damaged copy) */
  readonly copies = new Map<string, Buffer>();
  /** how many times `fetch` was called, by sha256 */
  readonly fetches = new Map<string, number>();

  async share(artifact: SharedArtifact, content: () => Readable): Promise<boolean> {
    if (this.copies.has(artifact.sha256)) return false;
    const parts: Buffer[] = [];
    for await (const part of content()) parts.push(part as Buffer);
    this.copies.set(artifact.sha256, Buffer.concat(parts));
    return true;
  }

  async fetch(sha256: string): Promise<Readable | undefined> {
    this.fetches.set(sha256, (this.fetches.get(sha256) ?? 0) + 1);
    const copy = this.copies.get(sha256);
    if (copy === undefined) return undefined;
    return Readable.from([copy]);
  }
}
