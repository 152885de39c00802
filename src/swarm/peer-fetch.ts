/** Fetching one range of a package from a peer (peer-server.ts), with this agent's ticket. */
import { PeerRefused } from './fetch-pieces.js';
import { TICKET_SCHEME, type Ticket } from './tickets.js';

/** A piece from a peer that has not come in this long: the peer counts as gone, the tracker names another. */
export const PEER_TIMEOUT_MS = 30_000;

/**
 * `length` bytes of package `sha256` from `offset`, from the peer at `peerUrl`. Throws
 * PeerRefused (busy: 503; gone: any other answer, or more bytes than asked), or fetch's error
 * when the peer cannot be reached.
 */
export async function fetchFromPeer(
  peerUrl: string,
  sha256: string,
  offset: number,
  length: number,
  ticket: Ticket,
  signal?: AbortSignal,
): Promise<Buffer> {
  const timeout = AbortSignal.timeout(PEER_TIMEOUT_MS);
  const res = await fetch(`${peerUrl}/v1/packages/${sha256}`, {
    headers: { range: `bytes=${offset}-${offset + length - 1}`, authorization: `${TICKET_SCHEME} ${ticket}` },
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  });
  if (res.status === 206) return readLimited(res, length);
  await res.body?.cancel();
  throw new PeerRefused(res.status === 503 ? 'busy' : 'gone', `the peer ${peerUrl} answered ${res.status}`);
}

/** A response's body, refusing more than `max` bytes (a peer cannot make an agent hold more than a piece). */
export async function readLimited(res: Response, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  if (res.body) {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      got += chunk.length;
      // leaving the loop by a throw cancels the body
      if (got > max) throw new PeerRefused('gone', `the answer is longer than the ${max} bytes asked for`);
      chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    }
  }
  return Buffer.concat(chunks, got);
}
