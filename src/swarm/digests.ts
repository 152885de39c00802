/**
 * What a piece is checked with (docs/packages-p2p.md): BLAKE3 where its native module loads, else
 * sha256 (the piece table's first format, which every agent knows). Checking each piece was a
 * quarter of a downloading agent's CPU with sha256 (1.2-1.4 GB/s a core here, with the CPU's SHA
 * instructions); BLAKE3 does 3.4-5.3 GB/s on the same core (@napi-rs/blake-hash). The package
 * itself is still named, signed and checked by its sha256: only the pieces' digests change.
 *
 * The module loads on first use, not with the agent: a CLI that never checks a piece never loads it.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

/** The digests a piece table may hold: `sha256` (absent from a table: its first format) or `blake3`. */
export const PIECE_DIGESTS = ['sha256', 'blake3'] as const;
export type PieceDigest = (typeof PIECE_DIGESTS)[number];

interface HexHasher {
  update(data: Uint8Array): unknown;
  digest(encoding: 'hex'): string;
}

interface Blake3Module {
  blake3(data: Uint8Array): Buffer;
  Blake3Hasher: new () => HexHasher;
}

/** The native module once loaded; null: it does not load on this machine (sha256 only). */
let native: Blake3Module | null | undefined;
/** Why it did not load (its loader's error), for the operator: an agent on sha256 is slower. */
let loadError: string | undefined;
/** Whether the reason was logged: once a process, not at every download (nor per simulated agent). */
let toldWhy = false;

/**
 * Loads the native module. Its loader tells glibc from musl by `process.report.getReport()`, which
 * by default describes every socket of the process, looking each peer's address up in DNS, on the
 * main thread: at a server's first BLAKE3 table with thousands of agents connected, or in a process
 * running hundreds of agents, a freeze of seconds to minutes where DNS does not answer. The report
 * is made without its network part (Node's `excludeNetwork`) while the module loads.
 */
function blake3Module(): Blake3Module | null {
  if (native === undefined) {
    const report = process.report as (typeof process.report & { excludeNetwork?: boolean }) | undefined;
    const excluded = report?.excludeNetwork;
    if (report) report.excludeNetwork = true;
    try {
      native = createRequire(import.meta.url)('@napi-rs/blake-hash') as Blake3Module;
    } catch (err) {
      native = null;
      loadError = (err as Error).message.split('\n')[0];
    } finally {
      if (report) report.excludeNetwork = excluded ?? false;
    }
  }
  return native;
}

/**
 * The best digest this process can check pieces with: `blake3` where its native module loads, else
 * `sha256`. Given `log`, the first call that falls back to sha256 says why there, once a process
 * (an operator sees why the agent's downloads take more CPU than on the other hosts).
 *
 * @example
 *   bestDigest(deps.log); // 'sha256', and logs once: "... does not load here: Cannot find module '@napi-rs/blake-hash-...'"
 */
export function bestDigest(log?: (line: string) => void): PieceDigest {
  if (blake3Module() !== null) return 'blake3';
  if (log && !toldWhy) {
    toldWhy = true;
    log(`pieces are checked with sha256, not BLAKE3 (slower): @napi-rs/blake-hash does not load here: ${loadError}`);
  }
  return 'sha256';
}

/** Whether this process can check digests named `name` (a piece table's `digest`, as sent). */
export function canCheck(name: string): name is PieceDigest {
  return name === 'sha256' || (name === 'blake3' && blake3Module() !== null);
}

/** The digest `digest` of `data`, in lower-case hex. Throws when this process cannot compute it (bestDigest says which it can). */
export function digestOf(digest: PieceDigest, data: Uint8Array): string {
  if (digest === 'sha256') return createHash('sha256').update(data).digest('hex');
  return loaded().blake3(data).toString('hex');
}

/** A digest `digest` fed in parts (a package read in chunks). */
export function hasherOf(digest: PieceDigest): HexHasher {
  return digest === 'sha256' ? createHash('sha256') : new (loaded().Blake3Hasher)();
}

function loaded(): Blake3Module {
  const m = blake3Module();
  if (m === null) throw new Error('BLAKE3 is not available on this machine (@napi-rs/blake-hash does not load)');
  return m;
}
