/**
 * Downloading a package in pieces (docs/packages-p2p.md): ask the tracker, fetch the pieces it
 * names from peers or the server, check each against the signed piece table, write it at its
 * offset, offer it to peers at once, and tell the tracker how it went. A piece that does not
 * match bans its peer for this package (here and at the tracker); a busy or silent peer only
 * costs a new assignment. The caller still checks the whole package's sha256 at the end.
 */
import { NoopsError } from '../errors/index.js';
import type { SigningKey } from '../release/index.js';
import { bestDigest, type PieceDigest } from './digests.js';
import type { PieceSource } from './peer-server.js';
import { checkTable, pieceCount, pieceMatches, pieceRange, type PieceTable } from './pieces.js';
import type { PieceStore } from './piece-store.js';
import type { Ticket } from './tickets.js';
import { SEED, type Assignment, type FailedWhy, type PieceReport, type SwarmAnswer, type SwarmRequest } from './wire.js';

/** A download with no piece landed for this long stops (the agent tries again later). */
export const STALL_MS = 60_000;
/**
 * While every missing piece is on its way, the pieces that landed are told to the tracker when
 * the rest is in or a piece fails, or once this long passed since the first of them landed: a
 * slow piece must not keep the others' sources counted busy, and what this agent holds unknown to
 * its peers, for longer. Pieces fetched together mostly land within this of each other.
 */
export const TELL_LANDED_MS = 250;
/**
 * While this many pieces or more are on their way, one that lands does not send a request for the
 * next at once: the agent asks when fewer are left (or the rest is in, a piece fails, or
 * TELL_LANDED_MS passed since the first untold piece landed). Asking after each piece cost a host
 * ~15 tracker requests for a package of 24 pieces (100 MB): three quarters of the server's calls
 * in that rollout. Two pieces on their way still keep a host's link busy while it asks for more.
 */
export const KEEP_FETCHING = 2;

/** A peer answered but would not give the piece (busy: 503; else refused or gone). */
export class PeerRefused extends Error {
  constructor(
    readonly why: FailedWhy,
    message: string,
  ) {
    super(message);
  }
}

export interface FetchPiecesDeps {
  sha256: string;
  /** the server key the agent pinned (piece table and tickets) */
  pinned: SigningKey;
  /** one request to the tracker */
  ask(req: SwarmRequest): Promise<SwarmAnswer>;
  /** a range of the package from the server */
  seed(offset: number, length: number): Promise<Buffer>;
  /** a range of the package from a peer, with the answer's ticket and the assignment's keyed one (if any); throws PeerRefused when the peer answers no */
  peer(url: string, offset: number, length: number, ticket: Ticket, keyed?: Ticket): Promise<Buffer>;
  /** a peer's piece is no longer needed (written, or refused): its buffer may be reused */
  release?(data: Buffer): void;
  /** where the pieces go, once the size is known */
  open(size: number): Promise<PieceStore>;
  /** offers the package to peers while it comes in (the function returned withdraws it) */
  offer?(source: PieceSource): () => void;
  /** where this agent serves (sent to the tracker) */
  serve?: SwarmRequest['serve'];
  /** the tracker would not send peers to `serve` (NOOPS_E_PEER_URL): this download goes on without serving, and the caller may stop saying it */
  serveRefused?(err: NoopsError): void;
  log(line: string): void;
  signal?: AbortSignal;
  /** log every piece and every tracker answer */
  debug?: boolean;
  /** tests: another bound than TELL_LANDED_MS */
  tellLandedMs?: number;
  now?(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** What a download took. */
export interface PiecesResult {
  size: number;
  /** the piece table's (signed by the server: a server of another version may cut otherwise than `pieceSizeFor`) */
  pieceSize: number;
  pieces: number;
  /** bytes from peers and from the server */
  fromPeers: number;
  fromSeed: number;
  /** peers banned for a piece that did not match */
  banned: string[];
  /** the pieces' store, still open and still offered to peers: the caller closes it and withdraws it when it moves the file */
  store: PieceStore;
  withdraw(): void;
}

/**
 * Thrown by the first tracker request when there is no usable piece table (a server without a
 * tracker, or a table that does not verify): the caller downloads the whole package instead.
 */
export class NoPieces extends Error {}

/**
 * Downloads package `sha256` in pieces into `deps.open(size)`; resolves once every piece is
 * written and checked. Throws NoPieces when the tracker cannot be used at all.
 */
export async function fetchPieces(deps: FetchPiecesDeps): Promise<PiecesResult> {
  const now = deps.now ?? Date.now;
  let serve = deps.serve;
  let answer: SwarmAnswer;
  // the fastest digest this agent checks; the server may answer with sha256 (the table says which)
  const digest = bestDigest(deps.log); // on sha256, says why once
  let asked: { digest?: PieceDigest } = digest === 'sha256' ? {} : { digest };
  // A server from before BLAKE3 tables refuses the field (NOOPS_E_INPUT: its body is strict): asked
  // again without it, and it is not sent again in this download (a sha256 table, or the size only).
  const ask = async (req: SwarmRequest): Promise<SwarmAnswer> => {
    try {
      return await deps.ask(req);
    } catch (err) {
      if (req.digest === undefined || !(err instanceof NoopsError && err.code === 'NOOPS_E_INPUT')) throw err;
      asked = {};
      const { digest: _, ...plain } = req;
      return deps.ask(plain);
    }
  };
  try {
    try {
      answer = await ask({ have: [], table: true, ...asked, ...(serve && { serve }) });
    } catch (err) {
      // where this agent says it serves is refused: it still downloads in pieces, serving none
      if (!(serve && err instanceof NoopsError && err.code === 'NOOPS_E_PEER_URL')) throw err;
      deps.log(`package ${deps.sha256.slice(0, 12)}: not serving pieces to peers: ${err.message} (${err.code}: ${err.hint})`);
      deps.serveRefused?.(err);
      serve = undefined;
      answer = await ask({ have: [], table: true, ...asked });
    }
  } catch (err) {
    if (err instanceof NoopsError && err.code === 'NOOPS_E_SERVER_UNREACHABLE') throw err;
    throw new NoPieces(`the tracker cannot be used (${(err as Error).message})`, { cause: err });
  }
  const table: PieceTable | undefined = answer.table;
  if (!table) throw new NoPieces('the tracker sent no piece table');
  const why = checkTable(deps.pinned, deps.sha256, table);
  if (why !== undefined) throw new NoPieces(why);
  const n = pieceCount(table.size, table.pieceSize);
  const store = await deps.open(table.size);
  const have = new Uint8Array(n);
  let count = 0;
  const withdraw =
    deps.offer?.({
      size: table.size,
      pieceSize: table.pieceSize,
      has: (i) => have[i] === 1,
      readAt: (o, l) => store.readAt(o, l),
      ...(store.release && { release: (data: Buffer) => store.release!(data) }),
    }) ?? (() => undefined);
  const result: PiecesResult = {
    size: table.size,
    pieceSize: table.pieceSize,
    pieces: n,
    fromPeers: 0,
    fromSeed: 0,
    banned: [],
    store,
    withdraw,
  };
  const done: PieceReport[] = [];
  const failed: (PieceReport & { why: FailedWhy })[] = [];
  const bad: PieceReport[] = [];
  const banned = new Set<string>();
  const inflight = new Map<number, Promise<void>>();
  let fatal: Error | undefined;
  let progressAt = now();
  /** when the first piece that landed and is not told yet landed */
  let untoldSince = 0;

  const dbg = deps.debug ? (l: string) => deps.log(`pieces ${Date.now() % 100000} ${l}`) : undefined;
  const fetchOne = async (a: Assignment): Promise<void> => {
    const { offset, length } = pieceRange(table, a.piece);
    dbg?.(`start ${a.piece} from ${a.from}`);
    let data: Buffer;
    try {
      data = a.from === SEED ? await deps.seed(offset, length) : await deps.peer(a.url!, offset, length, answer.ticket, a.ticket);
    } catch (err) {
      if (a.from === SEED) {
        fatal ??= err as Error;
        return;
      }
      failed.push({ piece: a.piece, from: a.from, why: err instanceof PeerRefused ? err.why : 'gone' });
      return;
    }
    if (!pieceMatches(table, a.piece, data)) {
      if (a.from === SEED) {
        fatal ??= new NoopsError(
          'NOOPS_E_SHA256_MISMATCH',
          `piece ${a.piece} of package ${deps.sha256} from the server does not match its digest`,
        );
        return;
      }
      deps.log(
        `package ${deps.sha256.slice(0, 12)}: piece ${a.piece} from ${a.from} does not match its digest; ${a.from} is banned for this package`,
      );
      if (data.length === length) deps.release?.(data); // a short answer's copy is no piece buffer to keep
      banned.add(a.from);
      result.banned.push(a.from);
      bad.push({ piece: a.piece, from: a.from });
      return;
    }
    dbg?.(`got ${a.piece} from ${a.from}`);
    await store.writeAt(offset, data);
    if (a.from !== SEED) deps.release?.(data);
    have[a.piece] = 1;
    count++;
    progressAt = now();
    if (a.from === SEED) result.fromSeed += length;
    else result.fromPeers += length;
    if (done.length === 0) untoldSince = now();
    done.push({ piece: a.piece, from: a.from });
  };

  try {
    while (count < n) {
      for (const a of answer.assignments) {
        if (have[a.piece] || inflight.has(a.piece)) continue;
        if (a.from !== SEED && banned.has(a.from)) {
          failed.push({ piece: a.piece, from: a.from, why: 'gone' });
          continue;
        }
        const p = fetchOne(a)
          .catch((err: Error) => {
            fatal ??= err;
          })
          .finally(() => inflight.delete(a.piece));
        inflight.set(a.piece, p);
      }
      // fewer than KEEP_FETCHING on their way and something to tell (pieces that landed while the
      // last request was out, a failure): asked at once, not after the next piece lands
      const tellFirst = !busyEnough() && (done.length > 0 || failed.length > 0 || bad.length > 0);
      let tellNow = tellFirst;
      if (!tellFirst && inflight.size > 0) {
        // enough on its way and some that landed untold: told by TELL_LANDED_MS at the latest
        let timer: NodeJS.Timeout | undefined;
        const tell =
          busyEnough() && done.length > 0
            ? new Promise<void>((resolve) => {
                timer = setTimeout(
                  () => {
                    tellNow = true;
                    resolve();
                  },
                  Math.max(0, untoldSince + (deps.tellLandedMs ?? TELL_LANDED_MS) - now()),
                );
              })
            : undefined;
        await Promise.race(tell ? [...inflight.values(), tell] : inflight.values());
        clearTimeout(timer);
      } else if (!tellFirst && count < n) await deps.sleep(answer.retryMs * (0.5 + Math.random()), deps.signal);
      if (fatal) throw fatal;
      if (deps.signal?.aborted) throw new NoopsError('NOOPS_E_SERVER_UNREACHABLE', 'the download was stopped');
      if (count === n) break;
      // Every missing piece is on its way, or KEEP_FETCHING are: nothing to ask for yet. What
      // landed is told with the next request (when fewer are on their way, at the end, when a piece
      // fails, or after TELL_LANDED_MS), not in one request per piece.
      if (busyEnough() && !tellNow) continue;
      if (now() - progressAt > STALL_MS)
        throw new NoopsError('NOOPS_E_SERVER_UNREACHABLE', `no piece of package ${deps.sha256} came in ${STALL_MS / 1000} s`);
      answer = await ask(reports());
      dbg?.(`asked: ${answer.assignments.map((x) => `${x.piece}<${x.from}`).join(' ')} retry ${answer.retryMs}`);
    }
    await Promise.all(inflight.values());
    if (fatal) throw fatal;
    // the tracker hears that this agent holds everything (it serves from now on); not needed for the download
    await ask({ ...reports(), complete: true }).catch(() => undefined);
    return result;
  } catch (err) {
    withdraw();
    await Promise.allSettled(inflight.values());
    await store.close();
    // what was assigned is over: the tracker frees its sources (not needed for the error); it
    // holds nothing it serves (withdrawn), so no peer is sent here
    const { serve: _, ...told } = reports();
    await ask({ ...told, have: [], complete: true }).catch(() => undefined);
    throw err;
  }

  /** Whether the next request can wait: every missing piece, or KEEP_FETCHING, on their way, and no failure to tell. */
  function busyEnough(): boolean {
    if (failed.length > 0 || bad.length > 0) return false;
    return count + inflight.size === n || inflight.size >= KEEP_FETCHING;
  }

  function reports(): SwarmRequest {
    const req: SwarmRequest = {
      have: [...have.keys()].filter((i) => have[i] === 1),
      ...asked, // the server keeps a table of each kind: this names the one it has for this download
      ...(done.length > 0 && { done: done.splice(0) }),
      ...(failed.length > 0 && { failed: failed.splice(0) }),
      ...(bad.length > 0 && { bad: bad.splice(0) }),
      ...(serve && { serve }),
    };
    return req;
  }
}
