/** Content-addressed storage of release packages: one file per sha256 of its content. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NoopsError } from '../errors/index.js';
import { assertSha256, isSha256, sha256File } from './sha256.js';
import type { SharedArtifacts } from './shared.js';

/** Where partial uploads are written; on the store's own file system, so the final rename is atomic. */
const TMP_DIR = '.tmp';

/** Stored files are read-only: an artifact never changes once it has its name. */
const STORED_MODE = 0o444;

/** Reads of a file being shared: the database keeps 1 MiB chunks (store/package-blobs.ts). */
const SHARE_READ_BYTES = 1024 * 1024;

/** Limits and checks of one write. */
export interface PutOptions {
  /** refuse (NOOPS_E_INPUT) content longer than this many bytes */
  maxBytes?: number;
  /**
   * Called with the complete temporary file and its sha256 before it is stored; a throw keeps it
   * out of the store (the error is rethrown). For uploads that must be valid to be kept.
   */
  check?: (tmpPath: string, sha256: string) => Promise<void>;
}

/** What was stored. */
export interface StoredArtifact {
  sha256: string;
  size: number;
}

/**
 * A folder of files named by the sha256 of their content: `dir/<first 2 hex>/<sha256>`.
 * Writes go to a temporary file first and are renamed into place, so a reader never sees half a
 * file; storing content that is already there keeps the existing file.
 *
 * With `shared` (several servers on one PostgreSQL: shared.ts), every artifact stored is also
 * shared before `put` returns, and one missing here is fetched from the shared copies on `has`,
 * `open` and `verify`, through the same temporary file and checked against its sha256, so a
 * damaged copy is never kept; concurrent misses of one artifact fetch it once.
 *
 * @example
 *   const store = new ArtifactStore('/var/lib/noops/artifacts');
 *   const { sha256, size } = await store.put('build/release.tar.gz');
 *   const stream = await store.open(sha256);
 */
export class ArtifactStore {
  /** the fetches running, by sha256: a second miss waits for the first */
  private readonly fetching = new Map<string, Promise<boolean>>();
  /**
   * The artifacts known to be in this folder, so that asking again costs no `stat` (a deploy to
   * 1,000 hosts asked once per download: 7% of the server's CPU in its profile). A stored file
   * never changes (its name is its content) and the store never removes one; a file removed by
   * hand is forgotten as soon as a read finds it gone (`open`, `size`, `verify`), and looked for
   * again (fetched from the shared copies, or not found) from then on. One entry per artifact the
   * server holds: no bound is needed beyond the folder's own.
   */
  private readonly present = new Set<string>();

  constructor(
    readonly dir: string,
    /** where the other servers' artifacts are (undefined: this server is alone) */
    private readonly shared?: SharedArtifacts,
  ) {}

  /** Copies a file into the store, hashing it on the way. */
  async put(srcPath: string): Promise<StoredArtifact> {
    return this.putStream(createReadStream(srcPath));
  }

  /**
   * Stores a stream's content, hashing it on the way. On error (or a failed check) nothing is
   * stored. With shared artifacts, resolves once the shared copy is complete too (a release
   * recorded after it is then served by every server).
   */
  async putStream(readable: Readable, opts: PutOptions = {}): Promise<StoredArtifact> {
    const stored = await this.write(readable, opts);
    await this.shared?.share(stored, () => createReadStream(this.path(stored.sha256), { highWaterMark: SHARE_READ_BYTES }));
    return stored;
  }

  /**
   * Shares every artifact of this folder the shared copies lack (a server that kept its packages
   * alone before it had company, or whose share failed), one at a time, until `signal` aborts;
   * answers how many were shared.
   */
  async shareAll(signal?: AbortSignal): Promise<number> {
    if (!this.shared) return 0;
    let count = 0;
    for (const sha256 of await this.list()) {
      if (signal?.aborted) break; // the server is closing: the next start shares the rest
      const { size } = await stat(this.path(sha256));
      const shared = await this.shared.share({ sha256, size }, () =>
        createReadStream(this.path(sha256), { highWaterMark: SHARE_READ_BYTES }),
      );
      if (shared) count += 1;
    }
    return count;
  }

  /** The sha256 of every artifact in this folder (not the shared ones). */
  async list(): Promise<string[]> {
    const out: string[] = [];
    let prefixes: string[];
    try {
      prefixes = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
      throw err;
    }
    for (const prefix of prefixes.filter((p) => /^[0-9a-f]{2}$/.test(p)).sort()) {
      for (const name of (await readdir(join(this.dir, prefix))).sort()) if (isSha256(name) && name.startsWith(prefix)) out.push(name);
    }
    return out;
  }

  /** Writes a stream into the folder (temporary file, checks, rename): put's and fetch's one path. */
  private async write(readable: Readable, opts: PutOptions): Promise<StoredArtifact> {
    const tmpDir = join(this.dir, TMP_DIR);
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const hasher = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        size += chunk.length;
        if (opts.maxBytes !== undefined && size > opts.maxBytes) {
          done(new NoopsError('NOOPS_E_INPUT', `the upload is larger than ${opts.maxBytes} bytes`));
          return;
        }
        done(null, chunk);
      },
    });
    try {
      // flush: fsync before close, so that a crash after the rename cannot leave an empty file
      await pipeline(readable, hasher, createWriteStream(tmp, { flags: 'wx', flush: true }));
      const sha256 = hash.digest('hex');
      await opts.check?.(tmp, sha256);
      const final = this.path(sha256);
      await mkdir(join(this.dir, sha256.slice(0, 2)), { recursive: true });
      // the folder itself decides (not `present`): content put again after its file was removed
      // by hand is stored again
      if (await isFile(final)) {
        await unlink(tmp);
      } else {
        await chmod(tmp, STORED_MODE);
        await rename(tmp, final);
      }
      this.present.add(sha256);
      return { sha256, size };
    } catch (err) {
      await unlink(tmp).catch(() => undefined); // it may never have been created
      throw err;
    }
  }

  /** The path of an artifact (whether or not it exists). */
  path(sha256: string): string {
    assertSha256(sha256);
    return join(this.dir, sha256.slice(0, 2), sha256);
  }

  /**
   * True when the store holds that artifact; one missing here is fetched from the shared copies
   * first (then `path` names it). A shared copy that does not match its sha256 is refused
   * (NOOPS_E_SHA256_MISMATCH) and nothing is kept.
   */
  async has(sha256: string): Promise<boolean> {
    return (await this.hasHere(sha256)) || this.fetchOnce(sha256);
  }

  /** True when this folder holds that artifact (no fetch); a `stat` only the first time it is found. */
  async hasHere(sha256: string): Promise<boolean> {
    if (this.present.has(sha256)) return true;
    const here = await isFile(this.path(sha256));
    if (here) this.present.add(sha256);
    return here;
  }

  /**
   * The size in bytes of an artifact, fetched from the shared copies first if it is not here.
   *
   * @throws NoopsError NOOPS_E_NOT_FOUND when no server has it
   */
  async size(sha256: string): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await stat(this.path(sha256))).size;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.present.delete(sha256); // removed by hand: no longer claimed present
        if (attempt > 0 || !(await this.fetchOnce(sha256))) throw this.notFound(sha256, err);
      }
    }
  }

  /**
   * The path of an artifact that is here, fetched from the shared copies first if it was not.
   *
   * @throws NoopsError NOOPS_E_NOT_FOUND when no server has it
   */
  async localPath(sha256: string): Promise<string> {
    if (!(await this.has(sha256))) throw this.notFound(sha256);
    return this.path(sha256);
  }

  /** Fetches a missing artifact from the shared copies, once however many ask at a time. */
  private fetchOnce(sha256: string): Promise<boolean> {
    if (!this.shared) return Promise.resolve(false);
    let pending = this.fetching.get(sha256);
    if (!pending) {
      pending = this.fetch(this.shared, sha256).finally(() => this.fetching.delete(sha256));
      this.fetching.set(sha256, pending);
    }
    return pending;
  }

  private async fetch(shared: SharedArtifacts, sha256: string): Promise<boolean> {
    if (await this.hasHere(sha256)) return true; // a fetch that just ended stored it
    const content = await shared.fetch(sha256);
    if (content === undefined) return false;
    await this.write(content, {
      check: async (_tmp, got) => {
        if (got !== sha256) {
          throw new NoopsError('NOOPS_E_SHA256_MISMATCH', `the shared copy of artifact ${sha256} has sha256 ${got}: it was not kept`, {
            hint: 'the database holds a damaged package; build or import the release again',
          });
        }
      },
    });
    return true;
  }

  private notFound(sha256: string, cause?: unknown): NoopsError {
    return new NoopsError('NOOPS_E_NOT_FOUND', `the artifact store ${this.dir} has no artifact ${sha256}`, {
      cause,
      hint: 'build the release again; the store lost its package',
    });
  }

  /**
   * Opens an artifact for reading.
   *
   * @throws NoopsError NOOPS_E_NOT_FOUND when the store does not hold it
   */
  async open(sha256: string): Promise<Readable> {
    const path = this.path(sha256);
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await open(path, 'r');
        return handle.createReadStream(); // closes the handle when done
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.present.delete(sha256); // removed by hand: no longer claimed present
        // a miss: fetch it from the shared copies, then open it once more
        if (attempt > 0 || !(await this.fetchOnce(sha256))) throw this.notFound(sha256, err);
      }
    }
  }

  /**
   * Rehashes a stored artifact: true when its content still matches its name, false if damaged or
   * missing (one missing here is fetched from the shared copies first).
   */
  async verify(sha256: string): Promise<boolean> {
    const path = this.path(sha256);
    for (let attempt = 0; ; attempt++) {
      if (!(await this.has(sha256))) return false;
      try {
        return (await sha256File(path)) === sha256;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.present.delete(sha256); // removed by hand: no longer claimed present; looked for once more
        if (attempt > 0) return false;
      }
    }
  }
}

/** Whether `path` is a file (false when nothing is there). */
async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
