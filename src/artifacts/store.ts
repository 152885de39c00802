/** Content-addressed storage of release packages: one file per sha256 of its content. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NoopsError } from '../errors/index.js';
import { assertSha256, sha256File } from './sha256.js';

/** Where partial uploads are written; on the store's own file system, so the final rename is atomic. */
const TMP_DIR = '.tmp';

/** Stored files are read-only: an artifact never changes once it has its name. */
const STORED_MODE = 0o444;

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
 * @example
 *   const store = new ArtifactStore('/var/lib/noops/artifacts');
 *   const { sha256, size } = await store.put('build/release.tar.gz');
 *   const stream = await store.open(sha256);
 */
export class ArtifactStore {
  constructor(readonly dir: string) {}

  /** Copies a file into the store, hashing it on the way. */
  async put(srcPath: string): Promise<StoredArtifact> {
    return this.putStream(createReadStream(srcPath));
  }

  /** Stores a stream's content, hashing it on the way. On error (or a failed check) nothing is stored. */
  async putStream(readable: Readable, opts: PutOptions = {}): Promise<StoredArtifact> {
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
      if (await this.has(sha256)) {
        await unlink(tmp);
      } else {
        await chmod(tmp, STORED_MODE);
        await rename(tmp, final);
      }
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

  /** True when the store holds that artifact. */
  async has(sha256: string): Promise<boolean> {
    try {
      return (await stat(this.path(sha256))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /**
   * Opens an artifact for reading.
   *
   * @throws NoopsError NOOPS_E_NOT_FOUND when the store does not hold it
   */
  async open(sha256: string): Promise<Readable> {
    const path = this.path(sha256);
    try {
      const handle = await open(path, 'r');
      return handle.createReadStream(); // closes the handle when done
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      throw new NoopsError('NOOPS_E_NOT_FOUND', `the artifact store ${this.dir} has no artifact ${sha256}`, {
        cause: err,
        hint: 'build the release again; the store lost its package',
      });
    }
  }

  /** Rehashes a stored artifact: true when its content still matches its name, false if damaged or missing. */
  async verify(sha256: string): Promise<boolean> {
    const path = this.path(sha256);
    try {
      return (await sha256File(path)) === sha256;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }
}
