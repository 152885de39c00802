/**
 * How the API client reaches the server: Node's fetch, or, when the client pins a CA, the
 * `undici` package's fetch with a dispatcher that trusts that CA alone. (Node 20's fetch is an
 * older bundled undici; a dispatcher from another major is not guaranteed to fit it, so the
 * pinned path uses the package's own fetch.) undici is imported only then: a plain CLI call or
 * an agent on loopback loads nothing more than before.
 *
 * @example
 *   const f = fetchFor({ ca: readFileSync('ca.pem', 'utf8') });
 *   const res = await f('https://10.0.0.5:7700/api/v1/whoami', { headers });
 */
import { NoopsError } from '../errors/index.js';

/**
 * What the client verifies its server by. Today the CA its TLS certificate must chain to; the
 * signed-releases work adds the server's release key beside it (docs/tls.md).
 */
export interface ClientTrust {
  /** PEM of the CA (or CAs) to trust instead of the system's; only used for https:// servers */
  ca?: string;
}

export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

/** One dispatcher (one connection pool) per CA, shared by every client that pins it: thousands of
 * simulated agents in the fleet benchmark share one pool, as they share the global one without TLS. */
const pinned = new Map<string, Promise<Fetch>>();

/** The fetch for a server: pinned to `trust.ca` for https://, Node's own otherwise. */
export function fetchFor(server: string, trust: ClientTrust | undefined): Fetch {
  const ca = trust?.ca;
  if (!ca || !server.startsWith('https:')) return (url, init) => fetch(url, init);
  return async (url, init) => (await pinnedFetch(ca))(url, init);
}

function pinnedFetch(ca: string): Promise<Fetch> {
  let f = pinned.get(ca);
  if (!f) {
    f = import('undici').then(({ Agent, fetch: undiciFetch }) => {
      const dispatcher = new Agent({ connect: { ca } });
      // undici's Response and RequestInit are the same WHATWG shapes under its own type names
      return (url: string, init: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher }) as unknown as Promise<Response>;
    });
    pinned.set(ca, f);
  }
  return f;
}

/** OpenSSL's and Node's codes for a certificate that does not verify against the trusted CAs. */
const UNTRUSTED: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'is not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT: 'is not signed by a trusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'is not signed by a trusted CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'chains to a CA that is not trusted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'is self-signed and not trusted',
  CERT_SIGNATURE_FAILURE: 'has a signature that does not verify',
  CERT_HAS_EXPIRED: 'has expired',
  CERT_NOT_YET_VALID: 'is not valid yet (is a clock wrong?)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'is not valid for this address (see --tls-san)',
};

/** The codes of a connection that speaks TLS to a plain server. */
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'EPROTO']);

/**
 * A failed fetch as a NoopsError: an untrusted certificate (nothing was sent: the handshake
 * failed before the request), a scheme that does not match the server, or an unreachable server.
 */
export function transportError(err: unknown, server: string): NoopsError {
  const code = causeCode(err);
  if (code !== undefined && code in UNTRUSTED) {
    return new NoopsError(
      'NOOPS_E_TLS_UNTRUSTED',
      `refused to talk to ${server}: its TLS certificate ${UNTRUSTED[code]} (${code}); nothing was sent`,
      { cause: err },
    );
  }
  if (code !== undefined && NOT_TLS.has(code) && server.startsWith('https:')) {
    return new NoopsError('NOOPS_E_TLS_MISMATCH', `${server} does not answer in TLS (${code}); a server without --tls is http://`, {
      cause: err,
    });
  }
  // A TLS server closes a plain-HTTP connection without a word; so does a server shutting down,
  // so the code stays "unreachable" (agents retry it) and the hint names both.
  const hint =
    server.startsWith('http:') && code === 'UND_ERR_SOCKET'
      ? 'the server closed the connection: if it runs with --tls, its address is https://...; otherwise start it with `noops server`'
      : undefined;
  return new NoopsError('NOOPS_E_SERVER_UNREACHABLE', `cannot reach the noops server at ${server}`, { cause: err, hint });
}

/** The first `code` down an error's chain of causes (fetch wraps the socket's error). */
export function causeCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== undefined && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
