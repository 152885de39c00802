/**
 * The agent's side of packages peer to peer (docs/packages-p2p.md): it downloads a release's
 * package in pieces from peers and the server as the tracker says, straight into the file the
 * installer verifies; and it serves what it holds to peers (`--peer-listen`), checking their
 * tickets against the server key it pinned. Without a tracker (an older server) or a pinned key,
 * the package comes whole from the server, as before.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiClient } from '../api/index.js';
import { NoopsError } from '../errors/index.js';
import { parseListen } from '../net/index.js';
import type { SigningKey } from '../release/index.js';
import {
  fetchFromPeer,
  fetchPieces,
  filePieceStore,
  NoPieces,
  peerKeyDomain,
  peerKeyOf,
  PeerServer,
  readLimited,
  releasePiece,
  wholeFileSource,
  type PieceDest,
  type PieceSource,
  type SwarmAnswer,
  type SwarmRequest,
} from '../swarm/index.js';
import { cacheDir } from './install/install-paths.js';
import { sleep } from './sleep.js';

/**
 * A tracker answer or a piece from the server that has not come in this long: the server counts
 * as unreachable for now and the agent tries the release again later, rather than wait on it. A
 * piece of a few MiB takes well under a second on any link a fleet runs on.
 */
export const SERVER_ANSWER_MS = 30_000;

/** `noops agent --peer-listen`'s default: every interface, the port after the API's 7700. */
export const DEFAULT_PEER_LISTEN = '0.0.0.0:7701';
/** The host of `--peer-listen :PORT`: every interface (peers are other machines). */
const PEER_DEFAULT_HOST = '0.0.0.0';

export interface SwarmClientOptions {
  root: string;
  api(): ApiClient;
  key(): SigningKey | undefined;
  /** `HOST:PORT` to serve pieces on (port 0: a free one); undefined: serve none */
  listen?: string;
  /** the URL peers reach this agent at, when it is not the address the server sees plus the port */
  url?: string;
  log(line: string): void;
  signal: AbortSignal;
}

/** What this agent's downloads took, summed (tests, benchmarks). */
export interface SwarmCounts {
  downloads: number;
  fromPeers: number;
  fromSeed: number;
  whole: number;
}

/**
 * `--peer-listen`: `off` is none (undefined); an address is checked (NOOPS_E_INPUT when it is not `HOST:PORT`).
 */
export function peerListenFlag(raw: string): string | undefined {
  if (raw.trim() === 'off') return undefined;
  if (parseListen(raw, PEER_DEFAULT_HOST) === undefined)
    throw new NoopsError(
      'NOOPS_E_INPUT',
      `--peer-listen "${raw}" must be HOST:PORT (e.g. 0.0.0.0:7701, 127.0.0.1:0 for a free port) or off`,
    );
  return raw.trim();
}

export class SwarmClient {
  readonly peers: PeerServer;
  readonly counts: SwarmCounts = { downloads: 0, fromPeers: 0, fromSeed: 0, whole: 0 };
  private serve: SwarmRequest['serve'];

  constructor(private readonly opts: SwarmClientOptions) {
    this.peers = new PeerServer({
      key: opts.key,
      peerKey: (serverKeyId) => opts.api().tokenKey(peerKeyDomain(serverKeyId), (token) => peerKeyOf(token, serverKeyId)),
      log: opts.log,
      fallback: (sha256) => this.cached(sha256),
    });
  }

  /** Starts serving (when asked to); a port that cannot be taken only warns: the agent still downloads. */
  async start(): Promise<void> {
    if (this.opts.listen === undefined) return;
    const at = parseListen(this.opts.listen, PEER_DEFAULT_HOST)!;
    try {
      const port = await this.peers.listen(at.host, at.port);
      this.serve = this.opts.url ? { url: this.opts.url } : { port };
    } catch (err) {
      this.opts.log(
        `cannot serve pieces to peers on ${this.opts.listen} (${(err as Error).message}); downloading without serving (--peer-listen ADDR|off)`,
      );
    }
  }

  async stop(): Promise<void> {
    await this.peers.close();
  }

  /**
   * Downloads package `sha256` (the server's `url` for it) in pieces into `dest` (a file that does
   * not exist yet, or a piece destination). False when pieces cannot be used: the caller downloads it whole.
   */
  async download(sha256: string, url: string, dest: string | PieceDest): Promise<boolean> {
    const pinned = this.opts.key();
    if (pinned === undefined) return false;
    const api = this.opts.api();
    // each call to the server under a deadline; its passing is the server being unreachable
    const bounded = async <T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> => {
      const timeout = AbortSignal.timeout(SERVER_ANSWER_MS);
      try {
        return await call(AbortSignal.any([this.opts.signal, timeout]));
      } catch (err) {
        if (!timeout.aborted || this.opts.signal.aborted) throw err;
        throw new NoopsError(
          'NOOPS_E_SERVER_UNREACHABLE',
          `the server did not answer about package ${sha256} in ${SERVER_ANSWER_MS / 1000} s`,
          {
            cause: err,
          },
        );
      }
    };
    try {
      const r = await fetchPieces({
        sha256,
        pinned,
        ask: (req) => bounded((signal) => api.request<SwarmAnswer>('POST', `/agent/pieces/${sha256}`, req, { signal })),
        seed: (offset, length) =>
          bounded(async (signal) => {
            const res = await api.download(url, { headers: { range: `bytes=${offset}-${offset + length - 1}` }, signal });
            if (res.status !== 206)
              throw new NoopsError('NOOPS_E_PACKAGE_INVALID', `the server answered ${res.status} to a range of ${url}`);
            return readLimited(res, length);
          }),
        peer: (peerUrl, offset, length, ticket, keyed) => fetchFromPeer(peerUrl, sha256, offset, length, ticket, this.opts.signal, keyed),
        release: releasePiece,
        open: (size) => (typeof dest === 'string' ? filePieceStore(dest, size) : dest.open(size)),
        offer: (source) => this.peers.offer(sha256, source),
        ...(this.serve && { serve: this.serve }),
        // refused by the tracker (NOOPS_E_PEER_URL): said no more until the agent restarts
        serveRefused: () => (this.serve = undefined),
        log: this.opts.log,
        signal: this.opts.signal,
        debug: process.env.NOOPS_SWARM_DEBUG === '1',
        sleep,
      });
      if (typeof dest === 'string') {
        // Served from the file wherever it is: here until the installer verifies it and moves it into the cache.
        await r.store.close();
        r.withdraw();
        const cached = join(cacheDir(this.opts.root), sha256);
        this.peers.offer(sha256, wholeFileSource(r.size, [dest, cached], r.pieceSize));
      }
      this.counts.downloads++;
      this.counts.fromPeers += r.fromPeers;
      this.counts.fromSeed += r.fromSeed;
      this.opts.log(
        `package ${sha256.slice(0, 12)}: ${r.pieces} pieces, ${r.fromPeers} bytes from peers, ${r.fromSeed} bytes from the server${r.banned.length ? `; banned ${r.banned.join(', ')}` : ''}`,
      );
      return true;
    } catch (err) {
      if (!(err instanceof NoPieces)) throw err;
      this.opts.log(`package ${sha256.slice(0, 12)}: downloaded whole from the server (${err.message})`);
      this.counts.whole++;
      return false;
    }
  }

  /** A verified package in this agent's cache, served whole. */
  private async cached(sha256: string): Promise<PieceSource | undefined> {
    const path = join(cacheDir(this.opts.root), sha256);
    const size = await stat(path).then(
      (s) => (s.isFile() ? s.size : undefined),
      () => undefined,
    );
    return size === undefined ? undefined : wholeFileSource(size, [path]);
  }
}
