/**
 * A package cut into pieces (docs/packages-p2p.md): the layout, the signed piece table, and the
 * check of one piece (by digests.ts, which loads BLAKE3's native module on first use). Light: the agent loads it.
 */
import { verifyFields, type ReleaseSignature, type SigningKey } from '../release/index.js';
import { canCheck, digestOf, type PieceDigest } from './digests.js';

/**
 * The smallest piece: 4 MiB. A piece is fetched, checked and then served whole, so smaller
 * pieces let a host pass on what it has sooner, but each costs a tracker round, a request and a
 * peer's ticket check; at 4 MiB a 10 MB package is 3 pieces, and a piece takes 34 ms on a 1 Gbit/s
 * link. (It was 1 MiB until session 25: 10 pieces, and 10,000 tracker rounds and piece requests
 * for 1,000 hosts; 4 MiB took 29% off the server's CPU in that rollout: docs/benchmarks.md.)
 * Agents take any piece size a signed table names: a server may choose another.
 */
export const PIECE_SIZE_MIN = 4 * 1024 * 1024;
/** Pieces per package at most (the piece size doubles until it fits): a piece table stays a few KB. */
export const MAX_PIECES = 64;
/** The first line of a piece table's signed message: sha256 digests (the first format). */
export const PIECES_DOMAIN = 'noops-pieces-v1';
/** The first line of the signed message of a table whose digests are not sha256 (it names them in `digest`). */
export const PIECES_DOMAIN_V2 = 'noops-pieces-v2';

/** What the signature of a piece table covers. */
export interface PieceFields {
  /** the package's sha256: the one its release's signature covers */
  sha256: string;
  size: number;
  pieceSize: number;
  /** what `digests` are; absent: sha256 (a table of the first format); `piecesDomain` says what it is signed under */
  digest?: Exclude<PieceDigest, 'sha256'>;
  /** the digest (hex) of each piece, in order */
  digests: string[];
}

/** A package's piece table, as the tracker sends it. */
export interface PieceTable extends PieceFields {
  /** the server's signature over the fields (PIECES_DOMAIN) */
  signature: ReleaseSignature;
}

/**
 * The piece size of a package of `size` bytes.
 *
 * @example pieceSizeFor(10_000_000) // 4194304
 */
export function pieceSizeFor(size: number): number {
  let p = PIECE_SIZE_MIN;
  while (Math.ceil(size / p) > MAX_PIECES) p *= 2;
  return p;
}

/** How many pieces a package has (an empty package: none). */
export function pieceCount(size: number, pieceSize: number): number {
  return Math.ceil(size / pieceSize);
}

/** Where piece `i` lies: its first byte and its length. */
export function pieceRange(t: Pick<PieceFields, 'size' | 'pieceSize'>, i: number): { offset: number; length: number } {
  const offset = i * t.pieceSize;
  return { offset, length: Math.min(t.pieceSize, t.size - offset) };
}

/** The signed fields of a table (what the signature covers, nothing else). */
export function pieceFields(t: PieceFields): PieceFields {
  if (t.digest === undefined) return { sha256: t.sha256, size: t.size, pieceSize: t.pieceSize, digests: t.digests };
  return { sha256: t.sha256, size: t.size, pieceSize: t.pieceSize, digest: t.digest, digests: t.digests };
}

/** The domain a table is signed under: the first one for sha256 digests, the second for any other. */
export function piecesDomain(t: Pick<PieceFields, 'digest'>): string {
  return t.digest === undefined ? PIECES_DOMAIN : PIECES_DOMAIN_V2;
}

/** What a table's digests are. */
export function digestOfTable(t: Pick<PieceFields, 'digest'>): PieceDigest {
  return t.digest ?? 'sha256';
}

/**
 * Why a piece table is not to be used for package `sha256` (undefined: use it). It must be for
 * that package, consistent, and signed by the key the agent pinned.
 */
export function checkTable(pinned: SigningKey, sha256: string, t: PieceTable): string | undefined {
  if (t.sha256 !== sha256) return `the piece table is for package ${t.sha256}, not ${sha256}`;
  if (!Number.isSafeInteger(t.size) || t.size < 0 || !Number.isSafeInteger(t.pieceSize) || t.pieceSize < 1)
    return 'the piece table has no valid size';
  if (t.digests.length !== pieceCount(t.size, t.pieceSize)) return 'the piece table does not have one digest per piece';
  // as sent (any string); a sha256 table is of the first format, without `digest`: one way to write each table
  const named: string | undefined = t.digest;
  if (named !== undefined && (named === 'sha256' || !canCheck(named)))
    return `the piece table's digests are ${JSON.stringify(named)}, which this agent does not check`;
  const why = verifyFields(pinned, piecesDomain(t), pieceFields(t), t.signature);
  return why === undefined ? undefined : `the piece table is refused: ${why}`;
}

/** Whether `data` is piece `i` of the table: its length and its digest (the table's kind). */
export function pieceMatches(t: PieceFields, i: number, data: Buffer): boolean {
  if (i < 0 || i >= t.digests.length || data.length !== pieceRange(t, i).length) return false;
  return digestOf(digestOfTable(t), data) === t.digests[i];
}
