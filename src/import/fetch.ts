/**
 * Fetching a package from a URL, for `noops release import URL` and a cluster.conf's `pkg_url`:
 * http(s) only, bounded in size and in time, every failure a clear NOOPS_E_PACKAGE_FETCH.
 */
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { NoopsError } from '../errors/index.js';

/**
 * The largest package an import takes: 2 GiB, far above any release a build writes (hundreds
 * of MB with a vendored runtime), and small enough that a URL that streams forever fails.
 */
export const MAX_IMPORT_BYTES = 2 * 1024 ** 3;
/** How long one download may take, whole: 10 minutes is 2 GiB at about 3.5 MB/s. */
export const FETCH_TIMEOUT_MS = 10 * 60_000;

/** The one side effect of fetching: the platform's fetch, or a test's. */
export type Fetcher = (url: string, init: { redirect: 'follow'; signal: AbortSignal }) => Promise<Response>;

/**
 * Checks that `url` is an absolute http(s) URL (file:, data: and the like are refused: the
 * server must not read its own files for a caller).
 *
 * @example checkUrl('https://ci.example.com/api.tar.gz') // the URL
 * @throws NoopsError NOOPS_E_INPUT
 */
export function checkUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new NoopsError('NOOPS_E_INPUT', `"${url}" is not a URL: give an http:// or https:// URL of the package`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new NoopsError(
      'NOOPS_E_INPUT',
      `"${url}" is a ${u.protocol.replace(':', '')} URL: only http:// and https:// packages are fetched`,
    );
  }
  return u;
}

/**
 * Opens a package's URL as a stream. The caller bounds the bytes it reads (`MAX_IMPORT_BYTES`);
 * a `content-length` above it is refused before any is read, and the whole download is cut at
 * `timeoutMs`. Redirects are followed (fetch follows only http(s) ones).
 *
 * @example const body = await openUrl('https://ci.example.com/api.tar.gz'); // then store it
 * @throws NoopsError NOOPS_E_INPUT (not http(s)), NOOPS_E_PACKAGE_FETCH (unreachable, not 2xx, too big)
 */
export async function openUrl(url: string, opts: { fetcher?: Fetcher; timeoutMs?: number; maxBytes?: number } = {}): Promise<Readable> {
  checkUrl(url);
  const fetcher = opts.fetcher ?? ((u, init) => fetch(u, init));
  const maxBytes = opts.maxBytes ?? MAX_IMPORT_BYTES;
  let res: Response;
  try {
    res = await fetcher(url, { redirect: 'follow', signal: AbortSignal.timeout(opts.timeoutMs ?? FETCH_TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause;
    throw new NoopsError('NOOPS_E_PACKAGE_FETCH', `cannot fetch ${url}: ${cause?.message ?? (err as Error).message}`, { cause: err });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => undefined); // nothing to read; the socket goes back
    throw new NoopsError(
      'NOOPS_E_PACKAGE_FETCH',
      `cannot fetch ${url}: the server answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`,
    );
  }
  const length = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(length) && length > maxBytes) {
    await res.body.cancel().catch(() => undefined);
    throw new NoopsError('NOOPS_E_PACKAGE_FETCH', `cannot fetch ${url}: it is ${length} bytes, more than the ${maxBytes} a package may be`);
  }
  return Readable.fromWeb(res.body as ReadableStream<Uint8Array>);
}
