/**
 * The server's piece tables: each package's table computed once from its bytes, checked against
 * its sha256, signed, and kept in memory. Tables are not stored: any package, old or new, gets one
 * the first time an agent asks, and several servers compute the same digests. A package has a
 * table for each kind of digest asked for (digests.ts): BLAKE3 for agents that check it, sha256
 * for the others.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { NoopsError } from '../errors/index.js';
import type { ReleaseSignature } from '../release/index.js';
import { hasherOf, type PieceDigest } from './digests.js';
import { pieceFields, piecesDomain, pieceSizeFor, type PieceFields, type PieceTable } from './pieces.js';

/** Tables kept: a table is a few KB, and a fleet deploys a few packages at a time. */
export const TABLES_KEPT = 256;

/**
 * Reads a package once: its pieces' digests (`digest`, sha256 by default) and its own sha256.
 * Throws NOOPS_E_SHA256_MISMATCH when the bytes are not package `sha256` (a table is never signed
 * over other bytes).
 */
export async function computePieces(sha256: string, size: number, bytes: Readable, digest: PieceDigest = 'sha256'): Promise<PieceFields> {
  const pieceSize = pieceSizeFor(size);
  const whole = createHash('sha256');
  const digests: string[] = [];
  let piece = hasherOf(digest);
  let inPiece = 0;
  let total = 0;
  for await (const chunk of bytes as AsyncIterable<Buffer>) {
    whole.update(chunk);
    total += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(pieceSize - inPiece, chunk.length - at);
      piece.update(chunk.subarray(at, at + take));
      inPiece += take;
      at += take;
      if (inPiece === pieceSize) {
        digests.push(piece.digest('hex'));
        piece = hasherOf(digest);
        inPiece = 0;
      }
    }
  }
  if (inPiece > 0) digests.push(piece.digest('hex'));
  const actual = whole.digest('hex');
  if (actual !== sha256 || total !== size)
    throw new NoopsError(
      'NOOPS_E_SHA256_MISMATCH',
      `package ${sha256} in the artifact store has sha256 ${actual}: no piece table is made`,
      {
        hint: 'the artifact store holds a damaged package; build or import the release again',
      },
    );
  return pieceFields({ sha256, size, pieceSize, ...(digest !== 'sha256' && { digest }), digests });
}

/** Where a table's package comes from, and how it is signed. */
export interface TableSource {
  /** the package's size and bytes */
  open(sha256: string): Promise<{ size: number; bytes: Readable }>;
  sign(domain: string, fields: object): ReleaseSignature;
}

/** The tables of packages, computed on first use (once however many ask at a time), the least recently used dropped. */
export class PieceTables {
  private readonly tables = new Map<string, Promise<PieceTable>>();

  constructor(private readonly source: TableSource) {}

  /** Package `sha256`'s table of `digest` digests. */
  get(sha256: string, digest: PieceDigest = 'sha256'): Promise<PieceTable> {
    const key = `${digest}:${sha256}`;
    let t = this.tables.get(key);
    if (t) {
      this.tables.delete(key);
      this.tables.set(key, t);
      return t;
    }
    t = this.make(sha256, digest);
    t.catch(() => this.tables.delete(key));
    this.tables.set(key, t);
    while (this.tables.size > TABLES_KEPT) this.tables.delete(this.tables.keys().next().value!);
    return t;
  }

  private async make(sha256: string, digest: PieceDigest): Promise<PieceTable> {
    const { size, bytes } = await this.source.open(sha256);
    const fields = await computePieces(sha256, size, bytes, digest);
    return { ...fields, signature: this.source.sign(piecesDomain(fields), fields) };
  }
}
