/**
 * The tracker's protocol (POST /api/v1/agent/pieces/SHA256): an agent downloading a package says
 * what it holds and how its last pieces went; the tracker answers which pieces to fetch from whom.
 */
import type { PieceDigest } from './digests.js';
import type { PieceTable } from './pieces.js';
import type { Ticket } from './tickets.js';

/** The source name of the server itself, the seed of last resort. */
export const SEED = '@server';

/** One piece and where it came from (a peer's host name, or SEED). */
export interface PieceReport {
  piece: number;
  from: string;
}

/** Why a piece could not be fetched from a peer. */
export type FailedWhy = 'busy' | 'gone';

export interface SwarmRequest {
  /** the pieces this agent holds, checked against their digests (indices) */
  have: number[];
  /** true: send the piece table (the first request of a download) */
  table?: boolean;
  /** the digests this agent checks pieces with (the table sent is of them; a server that cannot compute them sends sha256); absent: sha256 */
  digest?: PieceDigest;
  /** pieces fetched and checked since the last request */
  done?: PieceReport[];
  /** pieces that were not fetched: the peer was busy, or did not answer or refused */
  failed?: (PieceReport & { why: FailedWhy })[];
  /** pieces that did not match their digest: their peer is banned for this package */
  bad?: PieceReport[];
  /** where this agent serves pieces to its peers: a port on the address the server sees it at, or a URL; absent: it serves none */
  serve?: { port?: number; url?: string };
  /**
   * the download is over (every piece held, or given up): nothing more is assigned, and what was
   * assigned is freed; `have` still says what it holds (every piece, or none for one given up)
   */
  complete?: boolean;
}

/** Fetch piece `piece` from `from` (SEED: the server's package route with a range; else the peer at `url`). */
export interface Assignment {
  piece: number;
  from: string;
  url?: string;
  /**
   * a keyed ticket for this peer alone (tickets.ts `keyedTicket`), when the tracker knows the peer's
   * key: sent beside the answer's signed ticket, and checked by the peer without a signature check
   */
  ticket?: Ticket;
}

export interface SwarmAnswer {
  /** when asked for (`table: true`) */
  table?: PieceTable;
  /** shows the peers that this host may fetch this package (tickets.ts) */
  ticket: Ticket;
  assignments: Assignment[];
  /** when nothing was assigned: ask again after this long */
  retryMs: number;
}
