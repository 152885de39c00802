/**
 * Packages peer to peer (docs/packages-p2p.md): the signed piece table, tickets, the tracker
 * (server), the peer server and the piece downloader (agent). Light: node built-ins, and BLAKE3's
 * native module, loaded on first use (a download's first request, a table's making: digests.ts).
 */
export { bestDigest, canCheck, digestOf, PIECE_DIGESTS, type PieceDigest } from './digests.js';
export {
  checkTable,
  digestOfTable,
  MAX_PIECES,
  PIECE_SIZE_MIN,
  PIECES_DOMAIN,
  PIECES_DOMAIN_V2,
  pieceCount,
  pieceFields,
  pieceMatches,
  pieceRange,
  pieceSizeFor,
  piecesDomain,
  type PieceFields,
  type PieceTable,
} from './pieces.js';
export {
  checkKeyedTicket,
  checkTicket,
  encodeTicket,
  KEYED_TICKET_HEADER,
  keyedTicket,
  keyedTicketOf,
  PEER_KEY_DOMAIN,
  peerKeyDomain,
  peerKeyOf,
  plainAddress,
  refusedFrom,
  TICKET_DOMAIN,
  TICKET_SCHEME,
  TICKET_TTL_MS,
  type Ticket,
  type TicketFields,
} from './tickets.js';
export {
  affinity,
  AFFINITY_LABELS,
  ASSIGNMENT_TTL_MS,
  HOLD_MS,
  MAX_FETCHES_PER_AGENT,
  MAX_SEED_UPLOADS,
  MAX_UPLOADS_PER_PEER,
  PEER_TTL_MS,
  RETRY_MS,
  SEED_AFTER_MS,
  Tracker,
  WAKE_PER_CHANGE,
  type Asker,
  type TrackerAnswer,
} from './tracker.js';
export { computePieces, PieceTables, TABLES_KEPT, type TableSource } from './table.js';
export {
  MAX_PEER_CONNECTIONS,
  MAX_RANGE_BYTES,
  MAX_SERVING,
  REQUEST_HEADERS_MS,
  SERVE_DEADLINE_MS,
  TICKETS_CHECKED_KEPT,
  parseRange,
  PeerServer,
  type PeerServerOptions,
  type PieceSource,
  type ServedCounts,
} from './peer-server.js';
export { fetchPieces, NoPieces, PeerRefused, STALL_MS, type FetchPiecesDeps, type PiecesResult } from './fetch-pieces.js';
export { fetchFromPeer, keepSpareBytes, PEER_TIMEOUT_MS, readLimited, releasePiece, SPARE_BYTES } from './peer-fetch.js';
export { filePieceStore, isPieceDest, readFileRange, readRange, wholeFileSource, type PieceDest, type PieceStore } from './piece-store.js';
export { SEED, type Assignment, type FailedWhy, type PieceReport, type SwarmAnswer, type SwarmRequest } from './wire.js';
