/**
 * Where downloaded pieces go: straight to their offsets in a file (never the package whole in
 * memory), and read back from there to serve peers.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { pieceBuffer, releasePiece } from './piece-buffers.js';
import type { PieceSource } from './peer-server.js';
import { pieceSizeFor } from './pieces.js';

/** A package being put together piece by piece. */
export interface PieceStore {
  /** writes `data` at `offset`; `data` is not kept once this resolves (its buffer may be reused) */
  writeAt(offset: number, data: Buffer): Promise<void>;
  readAt(offset: number, length: number): Promise<Buffer>;
  /** what `readAt` answered, no longer needed (sent to a peer): a store that reads into reused buffers takes it back */
  release?(data: Buffer): void;
  close(): Promise<void>;
}

/**
 * Where a package download goes when it may come in pieces: `open` once its size is known, or
 * `stream` for a download of the whole package in order (a server without a tracker).
 */
export interface PieceDest {
  open(size: number): Promise<PieceStore>;
  stream(): Writable;
}

/** Whether a download's destination takes pieces. */
export function isPieceDest(dest: unknown): dest is PieceDest {
  return (
    typeof dest === 'object' &&
    dest !== null &&
    typeof (dest as PieceDest).open === 'function' &&
    typeof (dest as PieceDest).stream === 'function'
  );
}

/** A new file of `size` bytes at `path` (which must not exist), written and read at offsets. */
export async function filePieceStore(path: string, size: number): Promise<PieceStore> {
  const fh: FileHandle = await open(path, 'wx+', 0o600);
  try {
    await fh.truncate(size);
  } catch (err) {
    await fh.close();
    throw err;
  }
  let closed = false;
  return {
    async writeAt(offset, data) {
      let done = 0;
      while (done < data.length) done += (await fh.write(data, done, data.length - done, offset + done)).bytesWritten;
    },
    readAt: (offset, length) => readRange(fh, offset, length),
    release: releasePiece,
    async close() {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}

/**
 * `length` bytes of an open file from `offset` (fewer at its end), in a piece buffer (piece-buffers.ts):
 * a caller done with it may hand it back with `releasePiece` (a peer server, once it is sent).
 */
export async function readRange(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = pieceBuffer(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** `length` bytes of the file at `path` from `offset`. */
export async function readFileRange(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    return await readRange(fh, offset, length);
  } finally {
    await fh.close();
  }
}

/**
 * A whole package in a file, offered to peers: read from the first of `paths` that is there (a
 * download's file, until the installer moves it into the cache), into piece buffers reused once
 * sent. Its pieces are the piece table's (`pieceSize`: the download's table; else `pieceSizeFor`,
 * as this version's server cuts them), and the peer server serves a range of one piece at most:
 * with the whole file as one piece, any ticket holder could have this agent read 64 MiB
 * (MAX_RANGE_BYTES) into memory for each of its MAX_SERVING slots.
 */
export function wholeFileSource(size: number, paths: readonly string[], pieceSize = pieceSizeFor(size)): PieceSource {
  return {
    size,
    pieceSize,
    has: () => true,
    release: releasePiece,
    async readAt(offset, length) {
      let last: unknown;
      for (const p of paths) {
        try {
          return await readFileRange(p, offset, length);
        } catch (err) {
          last = err;
        }
      }
      throw last;
    },
  };
}
