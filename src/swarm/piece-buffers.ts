/**
 * Piece buffers, reused: the buffers pieces are fetched into (peer-fetch.ts) and read into to be
 * served (piece-store.ts), handed back with `releasePiece` once their bytes are written (to the
 * package's file, or to the asker's socket).
 */

/**
 * Piece buffers kept for reuse once their piece is written (`releasePiece`): every piece a host
 * received was a new buffer of 4 MiB or more, and the garbage collector's work on them was a fifth
 * of a fleet's CPU; so was every piece it served (a quarter of the CPU of a process that fetches
 * and serves pieces over loopback, measured with 4 MiB pieces: bench/fleet/peer-micro.ts with
 * SERVE_FROM=file and file-fresh). The spares are only ever the buffers released and not yet taken
 * again, so they number at most the pieces a process had in flight at once, fetched and served: a
 * few for an agent (MAX_FETCHES_PER_AGENT, and MAX_SERVING ranges served), hundreds for a process
 * that runs many (the simulated fleet). They are held up to SPARE_BYTES, and let go once no piece
 * was asked for in SPARE_IDLE_MS: an agent does not hold its last download's buffers between deploys.
 */
export const SPARE_BYTES = 256 * 1024 * 1024;
let spareCap = SPARE_BYTES;
/** How long spare piece buffers outlive the last piece asked for. */
export const SPARE_IDLE_MS = 20_000;
const spare = new Map<number, Buffer[]>();
let spareBytes = 0;
let lastAsked = 0;
let idleTimer: NodeJS.Timeout | undefined;

/** A buffer of `length` bytes for a piece: a spare of that size when one is kept, else a new one (its bytes not cleared). */
export function pieceBuffer(length: number): Buffer {
  lastAsked = performance.now();
  const kept = spare.get(length)?.pop();
  if (kept === undefined) return Buffer.allocUnsafe(length);
  spareBytes -= length;
  return kept;
}

/** Lets go of every spare once none was asked for in SPARE_IDLE_MS (looked at again when that time is up). */
function dropWhenIdle(after = SPARE_IDLE_MS): void {
  if (idleTimer !== undefined) return;
  idleTimer = setTimeout(() => {
    idleTimer = undefined;
    const idle = performance.now() - lastAsked;
    if (idle >= SPARE_IDLE_MS) {
      spare.clear();
      spareBytes = 0;
    } else if (spareBytes > 0) dropWhenIdle(SPARE_IDLE_MS - idle);
  }, after).unref();
}

/**
 * How many bytes of spare piece buffers this process keeps (SPARE_BYTES unless set): a process
 * that runs many agents at once (the simulated fleet's workers, hundreds each) keeps what they
 * would keep, each on its own host; the spares are still never more than its pieces in flight at once.
 * Spares held beyond a lowered cap are let go at once.
 */
export function keepSpareBytes(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`spare piece bytes must be a whole number of bytes, not ${bytes}`);
  spareCap = bytes;
  if (spareBytes > spareCap) {
    spare.clear();
    spareBytes = 0;
  }
}

/**
 * A piece's buffer (from `pieceBuffer`: a piece fetched, or a range read to be served), no longer
 * needed: kept for the next piece of that size.
 * Only whole buffers of their own memory are kept (never a slice of a larger one).
 */
export function releasePiece(data: Buffer): void {
  if (data.byteOffset !== 0 || data.buffer.byteLength !== data.length) return;
  if (spareBytes + data.length > spareCap) return;
  let list = spare.get(data.length);
  if (!list) {
    // a few piece sizes at a time (the last piece of each package differs): the sizes with no spare go first
    for (const [size, l] of spare) if (l.length === 0) spare.delete(size);
    if (spare.size >= 4) {
      spare.clear();
      spareBytes = 0;
    }
    spare.set(data.length, (list = []));
  }
  if (list.includes(data)) return;
  list.push(data);
  spareBytes += data.length;
  dropWhenIdle();
}
